package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOneSurvivorOfTwoMergeGroupsLinksBoth: an A40 whose two patient
// groups (ADT_A39: PID, MRG repeating) merge two duplicate records, 56789
// and 569, into one surviving record, 12345 (a registrar cleaning up two
// duplicates at once; the corpus's ADT-A40-02 with one survivor). Each
// retired record is written inactive, replaced-by the survivor, and the
// survivor, written once, must link back to each with replaces, as it
// does for a merge alone (FHIR Patient.link "replaces": the other record
// "should be consulted to retrieve additional referenced information").
// The second group's link went to a Patient the bundle never held: the
// survivor named again is the entry written for its first group.
func TestOneSurvivorOfTwoMergeGroupsLinksBoth(t *testing.T) {
	const msg = "MSH|^~\\&|Ntierprise|Ntierprise Clinic|Healthmatics EHR|Healthmatics Clinic|20190423150137||ADT^A40^ADT_A39|8919-40|P|2.5.1\n" +
		"EVN|A40|20190423150137\n" +
		"PID|1||12345^^^HOSP^MR||Test^Test^A||20180205|F|||123 Any Street^^Raleigh^NC^27615\n" +
		"MRG|56789^^^HOSP^MR\n" +
		"PID|1||12345^^^HOSP^MR||Test^Test^A||20180205|F|||123 Any Street^^Raleigh^NC^27615\n" +
		"MRG|569^^^HOSP^MR\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		t.Run(mode.String(), func(t *testing.T) {
			c := testConverter(t)
			c.Mode = mode
			b := mustConvert(t, c, msg)
			byURL := map[string]string{} // fullUrl -> MRN
			for _, e := range b.Entry {
				if p, ok := e.Resource.(*fhir.Patient); ok {
					byURL[e.FullURL] = p.Identifier[0].Value
				}
			}
			var survivors int
			for _, e := range b.Entry {
				p, ok := e.Resource.(*fhir.Patient)
				if !ok || p.Identifier[0].Value != "12345" {
					continue
				}
				survivors++
				linked := map[string]bool{}
				for _, l := range p.Link {
					if l.Type != "replaces" {
						continue
					}
					ref := l.Other.Reference
					if mode == ModeID {
						ref = "urn:uuid:" + ref[len("Patient/"):]
					}
					if byURL[ref] == "" {
						t.Errorf("replaces link to %q, no Patient of the bundle", l.Other.Reference)
					}
					linked[byURL[ref]] = true
				}
				for _, mrn := range []string{"56789", "569"} {
					if !linked[mrn] {
						t.Errorf("the survivor does not link to %s, merged into it (links %+v)", mrn, p.Link)
					}
				}
			}
			if survivors != 1 {
				t.Errorf("%d Patient entries for the survivor, want 1", survivors)
			}
		})
	}
}
