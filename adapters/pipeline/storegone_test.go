package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestStoreFolderRemovedWhileRunning: the quarantine or held folder
// removed while the gateway runs (by hand, to clear it out, or by a
// cleanup tool) was made only at start, so every input to be quarantined
// or held from then on failed with "no such file or directory" and was
// tried again, the MLLP sender answered AR, until someone restarted
// ferry. The folder is now made again when an entry is stored, as the
// outbox's is.
func TestStoreFolderRemovedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	held, err := OpenHeld(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"quarantine", "held"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	in := adapters.Raw{Source: "mllp", Format: "hl7v2", Name: "m1"}
	id, err := quar.Put(in, []byte("MSH|^~\\&|"), errors.New("unsupported message type"))
	if err != nil {
		t.Fatalf("quarantine after its folder was removed: %v", err)
	}
	if e, err := quar.Get(id); err != nil || e.Reason != "unsupported message type" {
		t.Fatalf("quarantined entry: %v, %v", e, err)
	}
	hid, err := held.Put(in, &Unit{Name: "u", Bundle: []byte(`{"resourceType":"Bundle"}`), Key: "k"}, "R")
	if err != nil {
		t.Fatalf("hold after the held folder was removed: %v", err)
	}
	if _, err := held.Get(hid); err != nil {
		t.Fatalf("held entry: %v", err)
	}
}
