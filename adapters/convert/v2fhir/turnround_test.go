package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMergeTurnedRound: a registrar merged chart 55999 into 55501 (A40,
// or changed the identifier 55999 to 55501 with A47), then found the
// direction wrong and sends the merge the other way. That used to be
// refused as a merge cycle (AE, quarantined, and `ferry merges undo` with
// the gateway stopped before a replay). It is the sender's correction:
// 55999 is current again and written from its PID, 55501 is written
// inactive and replaced-by it, the merge is reported as Reverse (the
// registry takes back the earlier one), and later results under either
// number are filed to 55999.
func TestMergeTurnedRound(t *testing.T) {
	msg := func(trigger, id, pid, mrg string) string {
		structure := map[string]string{"A40": "ADT_A39", "A47": "ADT_A30"}[trigger]
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^" + trigger + "^" + structure + "|" + id + "|P|2.5\n" +
			"EVN|" + trigger + "|20240321085900\n" +
			"PID|1||" + pid + "^^^HOSP^MR||ONeil^Sean||20010101|M\n" +
			"MRG|" + mrg + "^^^HOSP^MR\n"
	}
	for _, trigger := range []string{"A40", "A47"} {
		for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
			t.Run(trigger+"/"+mode.String(), func(t *testing.T) {
				reg := openRegistry(t)
				c := testConverter(t)
				c.Mode = mode
				c.Merges = reg
				_, first := convertRecording(t, c, reg, msg(trigger, "M1", "55501", "55999"))
				b, res := convertRecording(t, c, reg, msg(trigger, "M2", "55999", "55501"))
				if len(res.Merges) != 1 || !res.Merges[0].Reverse || res.Merges[0].Retired.Value != "55501" || res.Merges[0].Survivor.Value != "55999" {
					t.Fatalf("merges %+v, want 55501 into 55999, reversing", res.Merges)
				}
				if res.Retied != 0 {
					t.Errorf("Result.Retied = %d: the corrected patient was tied to the record it retires", res.Retied)
				}
				if res.PatientKey == first.PatientKey {
					t.Errorf("ordered under the retired record's key %q", res.PatientKey)
				}
				var cur, old *fhir.Patient
				var curURL string
				for _, e := range patientEntries(b) {
					p := e.Resource.(*fhir.Patient)
					switch p.Identifier[0].Value {
					case "55999":
						cur, curURL = p, e.FullURL
					case "55501":
						old = p
					}
				}
				if cur == nil || old == nil {
					t.Fatalf("Patient entries %s, want 55999 and 55501", marshal(t, b))
				}
				if cur.Active != nil && !*cur.Active || len(cur.Name) == 0 || cur.Name[0].Family != "ONeil" {
					t.Errorf("55999 not written current from its PID: %s", toJSON(cur))
				}
				if len(cur.Link) != 1 || cur.Link[0].Type != "replaces" {
					t.Errorf("55999 links %s, want replaces 55501", toJSON(cur.Link))
				}
				if old.Active == nil || *old.Active || len(old.Link) != 1 || old.Link[0].Type != "replaced-by" || old.Link[0].Other.Reference != curURL && old.Link[0].Other.Reference != "Patient/"+cur.ID {
					t.Errorf("55501 written %s, want inactive and replaced-by %s", toJSON(old), curURL)
				}
				strictR4(t, marshal(t, b))
				for _, mrn := range []string{"55501", "55999"} {
					_, r := convertRecording(t, c, reg, strings.ReplaceAll(retiredORU, "55999", mrn))
					if r.PatientKey != res.PatientKey {
						t.Errorf("result under %s ordered as %q, want 55999's %q", mrn, r.PatientKey, res.PatientKey)
					}
				}
			})
		}
	}
}
