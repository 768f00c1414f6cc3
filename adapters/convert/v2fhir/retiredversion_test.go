package v2fhir

import (
	"strings"
	"testing"
)

// TestReplacedVersionAfterMerge: the T10 that replaces DOC-1 is accepted
// while the patient is still A100; an A40 then merges A100 into B300;
// DOC-1's own T02 arrives last, still under A100 (a go-live backfill,
// an interface engine's error queue). It is filed to B300 (retied), and
// must still be written superseded: the registry of replaced versions
// knew DOC-1 replaced before the merge, under A100's key.
func TestReplacedVersionAfterMerge(t *testing.T) {
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			reg := versionSet{}
			merged := openRegistry(t)
			c := testConverter(t)
			c.Mode = mode
			c.Replaced = reg.has
			c.Merges = merged
			_, res := convertRecording(t, c, merged, mdm("T10", "D-2", "DOC-2^EHR", "DOC-1^EHR", "AU", "AV", true))
			reg.record(res)
			a40 := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240402090000||ADT^A40^ADT_A39|M40|P|2.5\n" +
				"EVN|A40|20240402085900\n" +
				"PID|1||B300^^^HOSP^MR||Doe^Pat||20200101|F\n" +
				"MRG|A100^^^HOSP^MR\n"
			convertRecording(t, c, merged, a40)
			b, res := convertRecording(t, c, merged, mdm("T02", "D-1", "DOC-1^EHR", "", "AU", "AV", true))
			if res.Retied != 1 {
				t.Fatalf("the T02 under the retired MRN is not retied (Retied %d)", res.Retied)
			}
			dr := documentRef(b)
			if dr == nil {
				t.Fatal("no DocumentReference")
			}
			if dr.Status != "superseded" {
				t.Errorf("DOC-1, replaced before the merge, is written %s after it", dr.Status)
			}
			// A document of the survivor's own, never replaced, stays
			// current.
			b, _ = convertRecording(t, c, merged, strings.Replace(mdm("T02", "D-5", "DOC-9^EHR", "", "AU", "AV", true), "A100^", "B300^", 1))
			if dr := documentRef(b); dr == nil || dr.Status != "current" {
				t.Errorf("an unrelated document of the survivor is not current")
			}
		})
	}
}
