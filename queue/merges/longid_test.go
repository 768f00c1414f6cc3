package merges

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/seal"
)

// TestLongIdentifiersReadBack: a merge Record accepts (and the pipeline
// then acknowledges) must read back after a restart. Identifiers at the
// length limit Record checks made a record longer than Open reads, so
// the next start refused the whole registry as damaged (or cut the
// merge off as a torn tail): one A40 with long identifiers from a sender
// kept the gateway from starting. Record refuses what it could not read.
func TestLongIdentifiersReadBack(t *testing.T) {
	raw := make([]byte, seal.KeySize)
	key, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*seal.Key{nil, key} {
		path := filepath.Join(t.TempDir(), "merges.log")
		r := mustOpen(t, path, Options{Key: k})
		long := func(c string) string { return strings.Repeat(c, maxStrLen/4) }
		m := Merge{Retired: ID{long("a"), long("b")}, Survivor: ID{long("c"), long("d")}}
		recorded := r.Record(m) == nil
		mustRecord(t, r, "X", "Y")
		r.Close()
		r, err := Open(path, Options{Key: k})
		if err != nil {
			t.Fatalf("sealed %v: reopen after recording long identifiers: %v", k != nil, err)
		}
		if got, ok, _ := r.Survivor(m.Retired); recorded && (!ok || got != m.Survivor) {
			t.Errorf("sealed %v: a merge Record accepted is lost after a restart", k != nil)
		}
		if got, _ := survivor(t, r, "X"); got != "Y" {
			t.Errorf("sealed %v: X resolves to %q", k != nil, got)
		}
		r.Close()
	}
}
