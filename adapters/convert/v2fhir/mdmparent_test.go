package v2fhir

import "testing"

// TestMDMOriginalWithParent: an original document (MDM^T01/T02) whose
// TXA-13 names a parent is a new document of the parent's group (HL7 v2
// chapter 9: TXA-13 assembles related documents, e.g. a transcription and
// its addendum); only a replacement (T09/T10) makes the parent obsolete.
// It was written relatesTo replaces while the parent stayed current, so
// the exchange held two current documents, one claiming to replace the
// other. It appends to its parent, which stays current, and an edit of it
// keeps that relation, as an addendum's (T05/T06) does.
func TestMDMOriginalWithParent(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			reg := versionSet{}
			for _, trig := range []string{"T01", "T02"} {
				st, res, _, rel := convertWith(t, mode, reg, mdm(trig, "D-2", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true))
				if st != "current" || len(rel) != 1 || rel[0] != "appends DOC-1" {
					t.Errorf("%s: status %s relatesTo %v, want current appends DOC-1", trig, st, rel)
				}
				if len(res.Changes) != 0 {
					t.Errorf("%s: the parent is changed %v", trig, res.Changes)
				}
				reg.record(res)
			}
			if st, _, _, _ := convertWith(t, mode, reg, mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true)); st != "current" {
				t.Errorf("the parent is %s", st)
			}
			if _, _, _, rel := convertWith(t, mode, reg, mdm("T08", "D-3", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true)); len(rel) != 1 || rel[0] != "appends DOC-1" {
				t.Errorf("edit relatesTo %v", rel)
			}
		})
	}
}
