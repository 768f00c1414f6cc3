package transport

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestWrongKeyNeedsAnOperator: items sealed with another key than the
// configured one are not delivered, stay queued, and the dispatcher reports
// the mismatch as a problem for an operator (the status page's "needs an
// operator"), naming both key ids.
func TestWrongKeyNeedsAnOperator(t *testing.T) {
	dir := t.TempDir()
	written, err := seal.GenerateKeyFile(filepath.Join(t.TempDir(), "a.key"))
	if err != nil {
		t.Fatal(err)
	}
	configured, err := seal.GenerateKeyFile(filepath.Join(t.TempDir(), "b.key"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(dir, diskq.Options{Key: written})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{Key: "p1", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	q.Close(context.Background())

	q, err = diskq.Open(dir, diskq.Options{Key: configured})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	sink := newScriptSink()
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.Stats().ConfigProblem == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no operator problem reported; stats %+v", d.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.Shutdown(context.Background())
	st := d.Stats()
	if p := st.ConfigProblem; !strings.Contains(p, written.ID()) || !strings.Contains(p, configured.ID()) {
		t.Errorf("ConfigProblem %q does not name both key ids", p)
	}
	if !st.Failing || st.Delivered != 0 || len(sink.calls) != 0 {
		t.Errorf("stats %+v, sends %v: nothing should have been sent", st, sink.calls)
	}
	if n := q.Len(); n != 1 {
		t.Fatalf("queue holds %d items, want the 1 sealed with the other key", n)
	}
}
