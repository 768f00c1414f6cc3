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

// TestDeadLetterCountAfterFolderRemoved: the dead letters counted in the
// queue's stats (the status page, /metrics, `ferry status`) were those
// found at Open and written since, so after the dead-letter folder was
// removed by hand they went on being counted, two dead letters that no
// longer existed, until a restart; one refused after the removal made it
// three. The count is now of the dead letters in the folder.
func TestDeadLetterCountAfterFolderRemoved(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	defer closeQ(t, q)
	kill := func() {
		t.Helper()
		_, a := get(t, q)
		if err := a(context.Background(), queue.Permanent(errors.New("HTTP 422"))); err != nil {
			t.Fatal(err)
		}
	}
	put(t, q, "K1", 1)
	put(t, q, "K2", 2)
	kill()
	kill()
	if n := q.Stats().DeadLetters; n != 2 {
		t.Fatalf("dead letters %d before the removal, want 2", n)
	}
	if err := os.RemoveAll(filepath.Join(dir, "dead")); err != nil {
		t.Fatal(err)
	}
	if n := q.Stats().DeadLetters; n != 0 {
		t.Fatalf("dead letters %d after the folder was removed, want 0", n)
	}
	put(t, q, "K3", 3)
	kill()
	if n := q.Stats().DeadLetters; n != 1 {
		t.Fatalf("dead letters %d after one more was refused, want 1", n)
	}
	dls, err := q.DeadLetters()
	if err != nil || len(dls) != 1 {
		t.Fatalf("listing %d dead letters (%v), want 1", len(dls), err)
	}
}
