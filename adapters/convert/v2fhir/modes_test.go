package v2fhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/golden"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("upsert"); err == nil || !strings.Contains(err.Error(), `"upsert"`) {
		t.Errorf("ParseMode(upsert): %v", err)
	}
}

// modeCases are the golden parts under testdata/modes: what the gateway
// queues for a message in each write mode (go test -run ModeGolden -update
// rewrites them).
var modeCases = []struct {
	name    string
	mode    Mode
	adtOnly bool
}{
	{"v2-adt-a01", ModePatientConditional, false},
	{"v2-oru-r01-cbc", ModePatientConditional, false},
	{"v2-oru-r01-cbc", ModePatientConditional, true},
	{"v2-oru-r01-cbc", ModeConditional, false},
	{"v2-oru-r01-cbc", ModeID, false},
	{"v2-adt-a40-merge", ModePatientConditional, false},
	{"v2-adt-a47", ModePatientConditional, false},
	{"v2-ref-i12", ModePatientConditional, false},
	{"v2-ref-i12", ModeConditional, false},
	{"v2-ppr-pc3", ModePatientConditional, false},
}

func convertParts(t *testing.T, c *Converter, name string) (*fhir.Bundle, []*fhir.Bundle) {
	t.Helper()
	raw, err := os.ReadFile("../../../testdata/convert/" + name + "/input.hl7")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := hl7v2.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	whole, _, err := c.Convert(msg, raw)
	if err != nil {
		t.Fatal(err)
	}
	parts, _, err := c.ConvertParts(msg, raw)
	if err != nil {
		t.Fatal(err)
	}
	return whole, parts
}

func TestModeGolden(t *testing.T) {
	for _, tc := range modeCases {
		file := tc.name + "." + tc.mode.String()
		if tc.adtOnly {
			file += ".adt-only"
		}
		t.Run(file, func(t *testing.T) {
			c := testConverter(t)
			c.Mode, c.PatientFromADTOnly = tc.mode, tc.adtOnly
			_, parts := convertParts(t, c, tc.name)
			got, err := json.MarshalIndent(parts, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			for _, p := range parts {
				strictR4(t, marshal(t, p))
			}
			golden.Check(t, filepath.Join("testdata", "modes", file+".json"), got, *update)
		})
	}
}

var (
	refRE     = regexp.MustCompile(`"reference":"([^"]+)"`)
	literalRE = regexp.MustCompile(`^[A-Za-z]+/[0-9a-f-]{36}$`)
)

// checkPatientConditional asserts what makes patient-conditional parts
// work at a Medplum exchange: each part fits its cap, every Patient entry
// is a conditional write without an id,
// every urn:uuid reference names an entry of the same part, every literal
// reference names something this or an earlier part writes, no other entry
// is conditional, and the parts together write each other entry of the
// whole bundle exactly once.
func checkPatientConditional(t *testing.T, whole *fhir.Bundle, parts []*fhir.Bundle, max int, adtOnly bool) {
	t.Helper()
	written := map[string]bool{}
	others := map[string]int{}
	for i, p := range parts {
		if len(p.Entry) > max {
			t.Errorf("part %d: %d entries, cap %d", i, len(p.Entry), max)
		}
		full := map[string]bool{}
		for _, e := range p.Entry {
			full[e.FullURL] = true
		}
		for _, e := range p.Entry {
			pt, isPatient := e.Resource.(*fhir.Patient)
			switch {
			case isPatient:
				if pt.ID != "" {
					t.Errorf("part %d: conditional Patient carries id %s", i, pt.ID)
				}
				search := "identifier=" + strings.TrimPrefix(e.Request.URL, "Patient?identifier=")
				if adtOnly {
					if e.Request.Method != "POST" || e.Request.URL != "Patient" || !strings.HasPrefix(e.Request.IfNoneExist, "identifier=") {
						t.Errorf("part %d: patient from a non-ADT message written as %s %s (ifNoneExist %q), want a conditional create", i, e.Request.Method, e.Request.URL, e.Request.IfNoneExist)
					}
				} else if e.Request.Method != "PUT" || !strings.HasPrefix(e.Request.URL, "Patient?identifier=") || len(search) < 15 {
					t.Errorf("part %d: patient written as %s %s, want PUT Patient?identifier=", i, e.Request.Method, e.Request.URL)
				}
			default:
				if fhir.Conditional(e) {
					t.Errorf("part %d: %s is conditional", i, e.Request.URL)
				}
				js := toJSON(e.Resource)
				var head struct{ ResourceType, ID string }
				_ = json.Unmarshal([]byte(js), &head)
				if e.Request.Method != "PUT" || e.Request.URL != head.ResourceType+"/"+head.ID {
					t.Errorf("part %d: %s written as %s %s", i, head.ResourceType, e.Request.Method, e.Request.URL)
				}
				others[e.Request.URL]++
				written[e.Request.URL] = true
			}
		}
		js := string(marshal(t, p))
		for _, m := range refRE.FindAllStringSubmatch(js, -1) {
			ref := m[1]
			switch {
			case strings.HasPrefix(ref, "urn:uuid:"):
				if !full[ref] {
					t.Errorf("part %d: reference %s names no entry of the part", i, ref)
				}
			case literalRE.MatchString(ref):
				if strings.HasPrefix(ref, "Patient/") {
					t.Errorf("part %d: literal patient reference %s", i, ref)
				}
				if !written[ref] {
					t.Errorf("part %d: reference %s before it is written", i, ref)
				}
			}
		}
	}
	want := 0
	for _, e := range whole.Entry {
		if _, ok := e.Resource.(*fhir.Patient); ok {
			continue
		}
		want++
		if others[e.Request.URL] != 1 {
			t.Errorf("%s written %d times over the parts, want 1", e.Request.URL, others[e.Request.URL])
		}
	}
	if len(others) != want {
		t.Errorf("parts write %d distinct non-patient entries, whole bundle %d", len(others), want)
	}
}

// TestPatientConditionalParts: in ModePatientConditional every golden v2
// case splits into parts a Medplum exchange accepts, with or without
// PatientFromADTOnly, and the Patient's identifier (not an id) ties them
// to the exchange's record.
func TestPatientConditionalParts(t *testing.T) {
	inputs, _ := filepath.Glob("../../../testdata/convert/*/input.hl7")
	for _, in := range inputs {
		name := filepath.Base(filepath.Dir(in))
		for _, adtOnly := range []bool{false, true} {
			c := testConverter(t)
			c.Mode, c.PatientFromADTOnly = ModePatientConditional, adtOnly
			raw, _ := os.ReadFile(in)
			msg, err := hl7v2.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			whole, _, err := c.Convert(msg, raw)
			if err != nil {
				continue // the error cases are TestGolden's
			}
			parts, err := c.Parts(whole)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			conditional := false
			for _, e := range whole.Entry {
				conditional = conditional || fhir.Conditional(e)
			}
			max := fhir.MaxConditionalEntries
			if !conditional {
				max = DefaultMaxEntries
			}
			t.Run(name, func(t *testing.T) {
				nonADT := adtOnly && msg.Type().Code != "ADT"
				checkPatientConditional(t, whole, parts, max, nonADT)
			})
		}
	}
}

// TestPatientConditionalCap: MaxEntries still overrides the cap, and the
// whole bundle (Convert) keeps one Patient entry referred to by urn:uuid.
func TestPatientConditionalCap(t *testing.T) {
	c := testConverter(t)
	c.Mode = ModePatientConditional
	whole, parts := convertParts(t, c, "v2-oru-r01-value-types")
	if n := len(whole.Entry); n != 21 {
		t.Fatalf("whole bundle has %d entries, want 21", n)
	}
	if len(parts) != 3 { // 20 others, 7 per part beside the Patient
		t.Errorf("%d parts at the default cap, want 3", len(parts))
	}
	checkPatientConditional(t, whole, parts, 8, false)
	c.MaxEntries = 4
	_, parts = convertParts(t, c, "v2-oru-r01-value-types")
	if len(parts) != 7 { // 3 others per part
		t.Errorf("%d parts at MaxEntries 4, want 7", len(parts))
	}
	checkPatientConditional(t, whole, parts, 4, false)
	var patients int
	pref := ""
	for _, e := range whole.Entry {
		if _, ok := e.Resource.(*fhir.Patient); ok {
			patients++
			pref = e.FullURL
		}
	}
	if patients != 1 || !strings.Contains(string(marshal(t, whole)), `"reference": "`+pref+`"`) {
		t.Errorf("%d Patient entries; subjects do not name %s", patients, pref)
	}
}

// TestPatientFromADTOnlyModes: with PatientFromADTOnly a result leaves
// the Patient out in ModeID, and makes it a conditional create in the
// conditional modes; an ADT still updates it conditionally.
func TestPatientFromADTOnlyModes(t *testing.T) {
	for _, mode := range []Mode{ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode, c.PatientFromADTOnly = mode, true
		b, _ := convertFile(t, c, "v2-oru-r01-cbc")
		e := b.Entry[0]
		if _, ok := e.Resource.(*fhir.Patient); !ok || e.Request.Method != "POST" || e.Request.URL != "Patient" ||
			e.Request.IfNoneExist != "identifier=urn%3Aoid%3A2.16.840.1.113883.3.999.1%7C"+strings.TrimPrefix(e.Resource.(*fhir.Patient).Identifier[0].Value, "") {
			t.Errorf("%s: first entry %s %s ifNoneExist=%q", mode, e.Request.Method, e.Request.URL, e.Request.IfNoneExist)
		}
		a, _ := convertFile(t, c, "v2-adt-a01")
		if a.Entry[0].Request.Method != "PUT" || !strings.HasPrefix(a.Entry[0].Request.URL, "Patient?identifier=") {
			t.Errorf("%s: ADT patient written as %s %s", mode, a.Entry[0].Request.Method, a.Entry[0].Request.URL)
		}
	}
}

// TestPatientConditionalIdentifierChange: in the conditional modes an A47
// leaves the old identifier to the replaced record alone, so a search by
// either number matches one patient; ModeID keeps it on the survivor.
func TestPatientConditionalIdentifierChange(t *testing.T) {
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		b, _ := convertFile(t, c, "v2-adt-a47")
		holders := map[string]int{}
		for _, e := range b.Entry {
			if p, ok := e.Resource.(*fhir.Patient); ok {
				for _, id := range p.Identifier {
					holders[id.System+"|"+id.Value]++
				}
			}
		}
		shared := 0
		for _, n := range holders {
			if n > 1 {
				shared++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[mode == ModeID]; shared != want {
			t.Errorf("%s: %d identifiers held by two patients, want %d", mode, shared, want)
		}
	}
}

// TestEncounterFromADTOnly: with PatientFromADTOnly an order for the
// visit an A01 opened leaves the Encounter to the ADT feed (an order's
// PV1 would replace its status, period and location) and refers to the
// A01's Encounter; without it, the order writes the Encounter as before.
func TestEncounterFromADTOnly(t *testing.T) {
	const a01 = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101120000||ADT^A01^ADT_A01|A1|P|2.5.1\r" +
		"EVN|A01|20240101120000\r" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\r" +
		"PV1|1|I|W1^101^A||||||||||||||||V77^^^HOSP^VN|||||||||||||||||||||||||20240101110000\r"
	const orm = "MSH|^~\\&|CPOE|HOSP|HIE|HIE|20240101130000||ORM^O01^ORM_O01|O1|P|2.5.1\r" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\r" +
		"PV1|1|I|||||||||||||||||V77^^^HOSP^VN\r" +
		"ORC|NW|P-1^CPOE\r" +
		"OBR|1|P-1^CPOE||718-7^Hemoglobin^LN\r"
	for _, adtOnly := range []bool{false, true} {
		c := testConverter(t)
		c.PatientFromADTOnly = adtOnly
		visit := entriesOf[fhir.Encounter](mustConvert(t, c, a01))
		if len(visit) != 1 {
			t.Fatalf("A01 encounters: %d", len(visit))
		}
		b := mustConvert(t, c, orm)
		written := entriesOf[fhir.Encounter](b)
		if adtOnly != (len(written) == 0) {
			t.Errorf("patient_from_adt_only %v: the order writes %d Encounter(s)", adtOnly, len(written))
		}
		if !strings.Contains(string(marshal(t, b)), `"reference": "Encounter/`+visit[0].ID+`"`) {
			t.Errorf("patient_from_adt_only %v: the order does not refer to the A01's Encounter %s", adtOnly, visit[0].ID)
		}
	}
}
