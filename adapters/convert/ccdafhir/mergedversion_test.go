package ccdafhir

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/replaced"
)

// TestOlderVersionNamingSurvivorAfterMergeIsSuperseded: version 2 of a
// document (RPLC of DOC-1) is accepted while its patient is MRN-RPLC;
// A40s then merge MRN-RPLC into MRN-MID and MRN-MID into MRN-SURV4 (a
// chain); version 1 arrives last from an export made after the merges,
// naming the survivor MRN-SURV4. The replacement was recorded under
// MRN-RPLC's key, and the lookup looked under the survivor's key only
// (and a retired identifier's when the document names one), so version 1
// was filed current in the survivor's record beside its replacement,
// which the merge brought there: two current versions of one document.
func TestOlderVersionNamingSurvivorAfterMergeIsSuperseded(t *testing.T) {
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		reg, err := replaced.Open(filepath.Join(t.TempDir(), replaced.FileName), replaced.Options{})
		if err != nil {
			t.Fatal(err)
		}
		mreg, err := merges.Open(filepath.Join(t.TempDir(), "merges.log"), merges.Options{})
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{Mode: mode, Replaced: reg.Replaced, Merges: mreg}
		_, r2, err := ConvertBytes(versionDoc(2, "", ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Add(r2.Replaces...); err != nil {
			t.Fatal(err)
		}
		for _, m := range [][2]string{{"MRN-RPLC", "MRN-MID"}, {"MRN-MID", "MRN-SURV4"}} {
			if err := mreg.Record(merges.Merge{Retired: merges.ID{System: mrnSystem, Value: m[0]},
				Survivor: merges.ID{System: mrnSystem, Value: m[1]}}); err != nil {
				t.Fatal(err)
			}
		}
		late := strings.ReplaceAll(string(versionDoc(1, "", "")), "MRN-RPLC", "MRN-SURV4")
		b1, r1, err := ConvertBytes([]byte(late), opts)
		if err != nil {
			t.Fatal(err)
		}
		if dr := docRef(t, b1); dr.Status != "superseded" || !r1.Superseded {
			t.Errorf("mode %d: version 1 naming the survivor, replaced under a record merged into it, is %s", mode, dr.Status)
		}
		// Another patient's DOC-1, nothing merged into them, stays
		// current.
		other := strings.ReplaceAll(string(versionDoc(1, "", "")), "MRN-RPLC", "MRN-ELSE")
		bo, _, err := ConvertBytes([]byte(other), opts)
		if err != nil {
			t.Fatal(err)
		}
		if dr := docRef(t, bo); dr.Status != "current" {
			t.Errorf("mode %d: another patient's DOC-1 is %s", mode, dr.Status)
		}
		mreg.Close()
		reg.Close()
	}
}

// TestReplacementNamingSurvivorSupersedesMergedRecordsVersion: version 1
// of DOC-1 is filed while its patient is MRN-RPLC (its DocumentReference
// keyed under that patient); an A40 then merges MRN-RPLC into MRN-SURV5,
// and version 2 (RPLC of DOC-1) arrives naming the survivor. Its
// supersede PATCH named only the survivor's DocumentReference for DOC-1,
// which does not exist (404, done), so version 1 stayed current beside
// version 2; and the replacement was recorded under the survivor's key
// only, so version 1's bundle retried after it (dead-lettered before)
// was not superseded either. The replacement now supersedes, and is
// recorded for, the version filed under each record merged into the
// survivor too.
func TestReplacementNamingSurvivorSupersedesMergedRecordsVersion(t *testing.T) {
	for _, mode := range []Mode{ModePutID, ModePatientConditional} {
		mreg, err := merges.Open(filepath.Join(t.TempDir(), "merges.log"), merges.Options{})
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{Mode: mode, Merges: mreg}
		b1, r1, err := ConvertBytes(versionDoc(1, "", ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		var v1URL string
		for _, e := range b1.Entry {
			if _, ok := e.Resource.(*fhir.DocumentReference); ok {
				v1URL = e.Request.URL
			}
		}
		if err := mreg.Record(merges.Merge{Retired: merges.ID{System: mrnSystem, Value: "MRN-RPLC"},
			Survivor: merges.ID{System: mrnSystem, Value: "MRN-SURV5"}}); err != nil {
			t.Fatal(err)
		}
		v2 := strings.ReplaceAll(string(versionDoc(2, "", "")), "MRN-RPLC", "MRN-SURV5")
		_, r2, err := ConvertBytes([]byte(v2), opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(r2.Supersedes, v1URL) {
			t.Errorf("mode %d: the replacement naming the survivor supersedes %v, not version 1 filed under the merged record (%s)", mode, r2.Supersedes, v1URL)
		}
		if !slices.Contains(r2.Replaces, r1.VersionKey) {
			t.Errorf("mode %d: the replacement does not record version 1's key under the merged record, which its retry reads", mode)
		}
		mreg.Close()
	}
}
