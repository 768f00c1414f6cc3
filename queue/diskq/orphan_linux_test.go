package diskq

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/queuetest"
)

// TestOrphanBodyThatStaysDoesNotStopOpen: a body file no record refers to
// (a conversion cut off before its Put, a settled item's file whose
// removal failed) is removed at Open; one that cannot be removed then (on
// Windows, a file a backup agent or virus scanner has open; here, one
// made immutable) failed Open, so the gateway did not start, and its
// service manager's restarts failed the same way, over a file holding
// nothing the queue needs. It is left for the next start, with a warning,
// and the queue opens and delivers what it holds.
func TestOrphanBodyThatStaysDoesNotStopOpen(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	w, err := q.CreateBody()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(phi))
	w.Close()
	orphan := w.Name()
	queued := put(t, q, "K", 1)
	closeQ(t, q)

	healthy := queuetest.SetImmutable(t, orphan)
	var logs logBuf
	q, err = Open(dir, Options{Logger: logs.logger()})
	if err != nil {
		t.Fatalf("Open with an orphan body file that cannot be removed: %v", err)
	}
	it, a := get(t, q)
	if it.ID != queued.ID {
		t.Fatalf("Get = %s, want the queued item %s", it.ID, queued.ID)
	}
	ack(t, a, nil)
	closeQ(t, q)
	if !strings.Contains(logs.String(), filepath.Base(orphan)) {
		t.Errorf("no warning names the orphan body file %s:\n%s", filepath.Base(orphan), logs.String())
	}

	healthy()
	q = open(t, dir, Options{})
	closeQ(t, q)
	if _, err := os.Stat(orphan); err == nil {
		t.Errorf("orphan body file %s still there after a start that could remove it", filepath.Base(orphan))
	}
}
