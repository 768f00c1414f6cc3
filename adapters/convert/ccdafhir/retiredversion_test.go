package ccdafhir

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/merges"
)

// TestOlderVersionAfterMergeIsSuperseded: version 2 of a document
// (RPLC of DOC-1) is accepted while its patient is MRN-RPLC; an A40 then
// merges MRN-RPLC into MRN-SURV2; version 1 arrives last, still naming
// MRN-RPLC (a go-live backfill of old exports). It is filed to the
// survivor and must still be written superseded: the registry knew
// DOC-1 replaced before the merge, under MRN-RPLC's key.
func TestOlderVersionAfterMergeIsSuperseded(t *testing.T) {
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		reg := versionSet{}
		mreg, err := merges.Open(filepath.Join(t.TempDir(), "merges.log"), merges.Options{})
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{Mode: mode, Replaced: reg.has, Merges: mreg}
		_, r2, err := ConvertBytes(versionDoc(2, "", ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range r2.Replaces {
			reg[k] = true
		}
		if err := mreg.Record(merges.Merge{Retired: merges.ID{System: mrnSystem, Value: "MRN-RPLC"},
			Survivor: merges.ID{System: mrnSystem, Value: "MRN-SURV2"}}); err != nil {
			t.Fatal(err)
		}
		b1, r1, err := ConvertBytes(versionDoc(1, "", ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if r1.Retied != 1 {
			t.Fatalf("mode %d: version 1 under the retired MRN is not retied", mode)
		}
		if dr := docRef(t, b1); dr.Status != "superseded" || !r1.Superseded {
			t.Errorf("mode %d: version 1, replaced before the merge, is %s after it", mode, dr.Status)
		}
		// The survivor's own DOC-1, never replaced, stays current.
		own := strings.ReplaceAll(string(versionDoc(1, "", "")), "MRN-RPLC", "MRN-OTHER")
		if err := mreg.Record(merges.Merge{Retired: merges.ID{System: mrnSystem, Value: "MRN-OTHER"},
			Survivor: merges.ID{System: mrnSystem, Value: "MRN-SURV3"}}); err != nil {
			t.Fatal(err)
		}
		bo, _, err := ConvertBytes([]byte(own), opts)
		if err != nil {
			t.Fatal(err)
		}
		if dr := docRef(t, bo); dr.Status != "current" {
			t.Errorf("mode %d: another patient's DOC-1 is %s", mode, dr.Status)
		}
		mreg.Close()
	}
}
