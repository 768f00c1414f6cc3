package v2fhir

import (
	"strings"
	"testing"
)

// A cancel (MDM^T11: the document was filed to the wrong patient) is
// accepted before the T02 that filed the document: an interface engine's
// error queue replayed, the T02 retried after the T11. The T11's PATCH
// found nothing to withdraw, and the T02 then filed the document current
// in the wrong patient's record, where it stayed, as did an edit (T08)
// of it. ferry remembers the cancel as it remembers a replacement, and
// the document arriving after it is written entered-in-error; the same
// number filed for another patient is current, and without a registry
// (ferry convert) nothing changes.
func TestMDMDocumentAfterItsCancel(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			reg := versionSet{}
			_, res := convertMDM(t, mode, mdm("T11", "D-9", "DOC-1^EHR", "", "AU", "CA", false))
			for _, k := range res.Replaces {
				if strings.Contains(k, "DOC-") || strings.Contains(k, "A100") {
					t.Errorf("registry key %q carries the document or patient id", k)
				}
			}
			reg.record(res)
			if st, res, _, _ := convertWith(t, mode, reg, mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true)); st != "entered-in-error" || len(res.Versions) != 0 {
				t.Errorf("the original after its cancel is %s (versions %v), want entered-in-error", st, res.Versions)
			}
			if st, _, _, _ := convertWith(t, mode, reg, mdm("T08", "D-3", "DOC-1^EHR", "", "AU", "AV", true)); st != "entered-in-error" {
				t.Errorf("an edit after the cancel is %s, want entered-in-error", st)
			}
			other := strings.Replace(mdm("T02", "D-5", "DOC-1^EHR", "", "AU", "AV", true), "A100^^^HOSP^MR", "B200^^^HOSP^MR", 1)
			if st, _, _, _ := convertWith(t, mode, reg, other); st != "current" {
				t.Errorf("the number filed for another patient is %s, want current", st)
			}
			if st, _, _, _ := convertWith(t, mode, versionSet{}, mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true)); st != "current" {
				t.Errorf("without the cancel the original is %s", st)
			}
		})
	}
}
