package v2fhir

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

const (
	retiredA40 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M40|P|2.5\n" +
		"EVN|A40|20240321085900\n" +
		"PID|1||55501^^^HOSP^MR||ONeil^Sean||20010101|M\n" +
		"MRG|55999^^^HOSP^MR\n"
	// A late result from a lab that missed the merge: the retired MRN,
	// and the retired record's (stale) name.
	retiredORU = "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240322090000||ORU^R01^ORU_R01|L7|P|2.5\n" +
		"PID|1||55999^^^HOSP^MR||ONeal^Shawn||20010101|M\n" +
		"OBR|1|ORD7|FIL7|2345-7^Glucose^LN|||20240322080000\n" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|||||F\n"
)

func openRegistry(t *testing.T) *merges.Registry {
	t.Helper()
	r, err := merges.Open(filepath.Join(t.TempDir(), "merges.log"), merges.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// convertRecording converts msg as the pipeline does: the merges it
// makes are recorded before the next message is converted.
func convertRecording(t *testing.T, c *Converter, reg *merges.Registry, msg string) (*fhir.Bundle, Result) {
	t.Helper()
	b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Merges {
		if err := reg.Record(m); err != nil {
			t.Fatal(err)
		}
	}
	return b, res
}

// patientEntries returns the bundle's Patient entries.
func patientEntries(b *fhir.Bundle) []fhir.BundleEntry {
	var out []fhir.BundleEntry
	for _, e := range b.Entry {
		if _, ok := e.Resource.(*fhir.Patient); ok {
			out = append(out, e)
		}
	}
	return out
}

// TestResultUnderRetiredMRNGoesToSurvivor: after an A40 merged MRN 55999
// into 55501, a lab result that still names 55999 must be filed to
// 55501, and must not PUT the retired Patient again (which would make it
// active, drop its replaced-by link and give it the lab's stale name).
func TestResultUnderRetiredMRNGoesToSurvivor(t *testing.T) {
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			reg := openRegistry(t)
			c := testConverter(t)
			c.Mode = mode
			c.Merges = reg
			a40, res40 := convertRecording(t, c, reg, retiredA40)
			if len(res40.Merges) != 1 {
				t.Fatalf("A40 reports merges %v, want one", res40.Merges)
			}
			survivorRef := patientEntries(a40)[0]
			oru, res := convertRecording(t, c, reg, retiredORU)
			if res.Retied != 1 {
				t.Errorf("Result.Retied = %d, want 1", res.Retied)
			}
			if res.PatientKey != res40.PatientKey {
				t.Errorf("ORU ordered under %q, the survivor's key is %q", res.PatientKey, res40.PatientKey)
			}
			// In ModeID the survivor's literal id; where the exchange
			// chooses ids, urn:uuid references are per bundle: the entry
			// must be one the exchange resolves to the survivor.
			want := fhir.Reference{Reference: survivorRef.Request.URL}
			var obs *fhir.Observation
			for _, e := range oru.Entry {
				if o, ok := e.Resource.(*fhir.Observation); ok {
					obs = o
				}
			}
			if obs == nil || obs.Subject == nil {
				t.Fatalf("no Observation with a subject: %s", marshal(t, oru))
			}
			pats := patientEntries(oru)
			switch mode {
			case ModeID:
				if obs.Subject.Reference != want.Reference {
					t.Errorf("Observation.subject = %s, want the survivor %s", obs.Subject.Reference, want.Reference)
				}
				if len(pats) != 0 {
					t.Errorf("ORU under the retired MRN writes Patient %s", toJSON(pats[0].Request))
				}
			default:
				if len(pats) != 1 {
					t.Fatalf("%d Patient entries, want the survivor's conditional create", len(pats))
				}
				e := pats[0]
				if e.Request.Method != "POST" || e.Request.IfNoneExist != "identifier=urn%3Aoid%3A2.16.840.1.113883.3.999.1%7C55501" {
					t.Errorf("Patient entry %s, want a conditional create of the survivor 55501", toJSON(e.Request))
				}
				if obs.Subject.Reference != e.FullURL {
					t.Errorf("Observation.subject = %s, want the survivor's entry %s", obs.Subject.Reference, e.FullURL)
				}
				p := e.Resource.(*fhir.Patient)
				if js := toJSON(p); strings.Contains(js, "55999") || p.Active != nil {
					t.Errorf("survivor's create body carries the retired MRN or an active flag: %s", js)
				}
			}
			// Nothing in the bundle writes the retired record.
			if js := string(marshal(t, oru)); strings.Contains(js, `"value":"55999"`) && mode == ModeID {
				t.Errorf("bundle still names the retired MRN as an identifier: %s", js)
			}
			strictR4(t, marshal(t, oru))
		})
	}
}

// TestRetiredChainAndCycle: A into B, then B into C: a message for A is
// C's. A merge back of C into A turns the chain round.
func TestRetiredChainAndCycle(t *testing.T) {
	reg := openRegistry(t)
	c := testConverter(t)
	c.Merges = reg
	a40 := func(id, survivor, retired string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|" + id + "|P|2.5\n" +
			"PID|1||" + survivor + "^^^HOSP^MR||Doe^Jo||19900101|F\n" +
			"MRG|" + retired + "^^^HOSP^MR\n"
	}
	convertRecording(t, c, reg, a40("M1", "B", "A"))
	final, resC := convertRecording(t, c, reg, a40("M2", "C", "B"))
	oru := strings.ReplaceAll(retiredORU, "55999", "A")
	b, res := convertRecording(t, c, reg, oru)
	if res.PatientKey != resC.PatientKey {
		t.Errorf("result for A ordered as %q, C is %q", res.PatientKey, resC.PatientKey)
	}
	want := patientEntries(final)[0].Request.URL
	for _, e := range b.Entry {
		if o, ok := e.Resource.(*fhir.Observation); ok && o.Subject.Reference != want {
			t.Errorf("Observation.subject = %s, want C's %s", o.Subject.Reference, want)
		}
	}
	// C merged into A, where A resolves to C: the sender turns its
	// merges round (TestMergeTurnedRound); converted here, not recorded.
	_, res3, err := c.ConvertRaw([]byte(strings.ReplaceAll(a40("M3", "A", "C"), "\n", "\r")))
	if err != nil || len(res3.Merges) != 1 || !res3.Merges[0].Reverse || res3.Merges[0].Retired.Value != "C" || res3.Merges[0].Survivor.Value != "A" {
		t.Errorf("A40 merging C into A (A was merged into C): merges %v, error %v; want C into A, reversing", res3.Merges, err)
	}
	// An A40 whose surviving PID was itself retired writes the merge onto
	// the record that survived it.
	b, res = convertRecording(t, c, reg, a40("M4", "B", "D"))
	if len(res.Merges) != 1 || res.Merges[0].Survivor.Value != "C" {
		t.Errorf("D into retired B records %v, want D into C", res.Merges)
	}
	for _, e := range patientEntries(b) {
		if p := e.Resource.(*fhir.Patient); p.Identifier[0].Value == "D" && p.Link[0].Other.Reference != want {
			t.Errorf("D replaced-by %s, want C %s", p.Link[0].Other.Reference, want)
		}
		if p := e.Resource.(*fhir.Patient); p.Identifier[0].Value == "B" {
			t.Errorf("retired B written again: %s", toJSON(p))
		}
	}
}

// TestRetiedPartsCarrySurvivor: in patient-conditional mode a re-tied
// result long enough to be cut into parts carries the survivor's
// conditional create in every part its resources refer to it from.
func TestRetiedPartsCarrySurvivor(t *testing.T) {
	reg := openRegistry(t)
	c := testConverter(t)
	c.Mode = ModePatientConditional
	c.Merges = reg
	convertRecording(t, c, reg, retiredA40)
	oru := retiredORU
	for i := 2; i <= 12; i++ {
		n := strings.Repeat("1", i)
		oru += "OBX|" + n + "|NM|" + n + "-1^Test " + n + "^L||" + n + "|mg/dL|||||F\n"
	}
	b, _ := convertRecording(t, c, reg, oru)
	parts, err := c.Parts(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%d parts, want the result cut", len(parts))
	}
	checkPatientConditional(t, b, parts, 8, true)
	for i, p := range parts {
		for _, e := range patientEntries(p) {
			if !strings.HasSuffix(e.Request.IfNoneExist, "%7C55501") {
				t.Errorf("part %d: Patient entry %s, want the survivor", i, toJSON(e.Request))
			}
		}
	}
}

// TestNoRegistryUnchanged: without a registry (`ferry convert`), an
// A40 still reports its merge and a later message is converted as it
// says.
func TestNoRegistryUnchanged(t *testing.T) {
	c := testConverter(t)
	_, res := convertRecording(t, c, openRegistry(t), retiredA40)
	if len(res.Merges) != 1 || res.Merges[0].Retired.Value != "55999" || res.Merges[0].Survivor.Value != "55501" {
		t.Errorf("A40 merges %v", res.Merges)
	}
	b, res := convertRecording(t, c, openRegistry(t), retiredORU)
	if res.Retied != 0 || len(patientEntries(b)) != 1 {
		t.Errorf("without a registry the ORU's patient is its PID's: retied %d", res.Retied)
	}
}

// TestADTUnderRetiredMRN: an A08 from a system that missed the merge
// neither revives the retired record nor overwrites the survivor's
// demographics (ModeID: no Patient entry at all), and its visit is the
// survivor's; an A29 for the retired MRN does not mark the survivor
// inactive.
func TestADTUnderRetiredMRN(t *testing.T) {
	reg := openRegistry(t)
	c := testConverter(t)
	c.Merges = reg
	a40, _ := convertRecording(t, c, reg, retiredA40)
	survivor := patientEntries(a40)[0].Request.URL
	for _, trig := range []string{"A08", "A29"} {
		msg := "MSH|^~\\&|REG|CLINIC|FERRY|HIE|20240323090000||ADT^" + trig + "^ADT_A01|R" + trig + "|P|2.5\n" +
			"PID|1||55999^^^HOSP^MR||ONeal^Shawn||20010101|M|||1 Old St^^Town^ST^11111\n" +
			"PV1|1|O|CLINIC^^^^^^^^||||||||||||||||V900\n"
		b, res := convertRecording(t, c, reg, msg)
		if res.Retied != 1 {
			t.Errorf("%s: Retied %d", trig, res.Retied)
		}
		if pats := patientEntries(b); len(pats) != 0 {
			t.Errorf("%s under the retired MRN writes %s", trig, toJSON(pats[0].Resource))
		}
		encs := 0
		for _, e := range b.Entry {
			if enc, ok := e.Resource.(*fhir.Encounter); ok {
				encs++
				if enc.Subject.Reference != survivor {
					t.Errorf("%s: Encounter.subject %s, want the survivor %s", trig, enc.Subject.Reference, survivor)
				}
			}
		}
		if trig == "A08" && encs != 1 {
			t.Errorf("A08: %d Encounters, want its visit", encs)
		}
	}
}

// TestMergeTooLongToRecordIsContent: an A40 whose identifiers the
// registry could not store (it refuses records its Open could not read
// back) is the message's fault, answered AE and quarantined, not a disk
// failure the pipeline would retry for ever.
func TestMergeTooLongToRecordIsContent(t *testing.T) {
	reg := openRegistry(t)
	c := testConverter(t)
	c.Merges = reg
	long := strings.Repeat("9", merges.MaxMergeBytes)
	msg := strings.ReplaceAll(strings.ReplaceAll(retiredA40, "MRG|55999", "MRG|"+long), "\n", "\r")
	_, _, err := c.ConvertRaw([]byte(msg))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Segment != "MRG" || !strings.Contains(ce.Reason, "too long") {
		t.Fatalf("A40 with a %d-byte MRG-1: %v, want a content error on MRG-1", len(long), err)
	}
	// Within the bounds, the registry takes it.
	short := strings.Repeat("9", 16000)
	convertRecording(t, c, reg, strings.ReplaceAll(retiredA40, "MRG|55999", "MRG|"+short))
	if reg.Len() != 1 {
		t.Fatalf("registry holds %d merges, want 1", reg.Len())
	}
}
