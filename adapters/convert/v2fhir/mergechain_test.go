package v2fhir

import (
	"encoding/json"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestChainedMergeGroupsRetireTheMiddleRecord: an A40 whose first patient
// group merges 100 into 200 and whose second merges 200 into 300 (ADT_A39
// repeats PID, MRG: a registrar folding three duplicates into one, the
// middle one first). The registry records both, so inputs under 100 or
// 200 go to 300; but 200 was written once, as the first group's survivor,
// active and without a link, and the second group's retired record was
// that same entry (add keeps the entry written first): the exchange kept
// 200 as a current patient beside 300, which says it replaces 200. FHIR
// R4 Patient.link replaced-by: "The patient resource containing this link
// must no longer be used"; 200 is written inactive, replaced-by 300, and
// keeps its replaces link to 100.
func TestChainedMergeGroupsRetireTheMiddleRecord(t *testing.T) {
	const msg = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M40C|P|2.5\n" +
		"EVN|A40|20240321085900\n" +
		"PID|1||200^^^HOSP^MR||ONeil^Sean||20010101|M\n" +
		"MRG|100^^^HOSP^MR\n" +
		"PID|2||300^^^HOSP^MR||ONeil^Sean||20010101|M\n" +
		"MRG|200^^^HOSP^MR\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			c := testConverter(t)
			c.Mode = mode
			c.Merges = openRegistry(t)
			b := mustConvert(t, c, msg)
			byURL := map[string]string{} // fullUrl -> MRN
			byMRN := map[string][]*fhir.Patient{}
			for _, e := range b.Entry {
				if p, ok := e.Resource.(*fhir.Patient); ok {
					byURL[e.FullURL] = p.Identifier[0].Value
					byMRN[p.Identifier[0].Value] = append(byMRN[p.Identifier[0].Value], p)
				}
			}
			links := func(p *fhir.Patient, typ string) []string {
				var out []string
				for _, l := range p.Link {
					if l.Type != typ {
						continue
					}
					ref := l.Other.Reference
					if mode == ModeID {
						ref = "urn:uuid:" + ref[len("Patient/"):]
					}
					out = append(out, byURL[ref])
				}
				return out
			}
			for _, mrn := range []string{"100", "200", "300"} {
				if len(byMRN[mrn]) != 1 {
					t.Fatalf("%d Patient entries for %s, want 1", len(byMRN[mrn]), mrn)
				}
			}
			mid := byMRN["200"][0]
			if mid.Active == nil || *mid.Active {
				t.Errorf("200, merged into 300 by the second group, is not written inactive: %s", patientJSON(mid))
			}
			if got := links(mid, "replaced-by"); len(got) != 1 || got[0] != "300" {
				t.Errorf("200 replaced-by %v, want [300]", got)
			}
			if got := links(mid, "replaces"); len(got) != 1 || got[0] != "100" {
				t.Errorf("200 replaces %v, want [100]", got)
			}
			if got := links(byMRN["300"][0], "replaces"); len(got) != 1 || got[0] != "200" {
				t.Errorf("300 replaces %v, want [200]", got)
			}
			if a := byMRN["300"][0].Active; a != nil && !*a {
				t.Error("300, the survivor, is written inactive")
			}
		})
	}
}

func patientJSON(p *fhir.Patient) string {
	b, _ := json.Marshal(p)
	return string(b)
}
