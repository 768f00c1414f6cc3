package merges

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStoppedRegistryRecovers: a write whose end is unknown (a failed
// fsync: the kernel may have dropped the pages while marking them clean)
// stopped the registry until the process restarted: every later merge
// message was refused and retried, so a sender that resends in order
// stopped all its messages behind it, though the gateway said so only in
// one log line and nothing restarted it. The registry now starts again
// with the next Record, in a file written anew from memory, which holds
// every merge that was acknowledged and none of the failed write's.
func TestStoppedRegistryRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	mustRecord(t, r, "A", "B")
	// The next write fails as a failed fsync does, its end unknown: the
	// handle is swapped for a read-only one, so the write fails and so
	// does cutting it off again.
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r.f.Close()
	r.f = ro
	if err := r.Record(Merge{Retired: id("C"), Survivor: id("D")}); err == nil {
		t.Fatal("Record through a read-only handle succeeded")
	}
	if r.err == nil {
		t.Fatal("the registry did not stop")
	}
	if _, ok := survivor(t, r, "C"); ok {
		t.Error("the failed write's merge is known")
	}
	// The disk works again: the merge message is sent again.
	if err := r.Record(Merge{Retired: id("C"), Survivor: id("D")}); err != nil {
		t.Fatalf("Record after the registry stopped: %v", err)
	}
	mustRecord(t, r, "E", "F")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = mustOpen(t, path, Options{})
	defer r.Close()
	for v, want := range map[string]string{"A": "B", "C": "D", "E": "F"} {
		if got, _ := survivor(t, r, v); got != want {
			t.Errorf("after reopening, %s resolves to %q, want %q", v, got, want)
		}
	}
}
