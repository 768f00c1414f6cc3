package diskq

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestDeadLetterFolderRemovedWhileRunning: the dead-letter folder removed
// while the gateway runs (by hand, to clear old dead letters) was made
// only at Open, so every item the exchange refused from then on could not
// be dead-lettered: it was kept and sent again to the exchange every
// minute, refused each time, until someone restarted ferry. The folder is
// now made again when a dead letter is written.
func TestDeadLetterFolderRemovedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	defer closeQ(t, q)
	if err := os.RemoveAll(filepath.Join(dir, "dead")); err != nil {
		t.Fatal(err)
	}
	it := put(t, q, "K", 1)
	_, a := get(t, q)
	if err := a(context.Background(), queue.Permanent(errors.New("HTTP 422"))); err != nil {
		t.Fatalf("dead-lettering after the folder was removed: %v", err)
	}
	if _, err := q.DeadLetter(it.ID); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	if st := q.Stats(); st.Depth != 0 {
		t.Fatalf("item still queued: %+v", st)
	}
}
