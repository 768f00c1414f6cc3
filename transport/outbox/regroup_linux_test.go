package outbox

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// dirFDs returns the descriptors of this process open on dir.
func dirFDs(t *testing.T, dir string) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	fds := map[int]bool{}
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == dir {
			n, _ := strconv.Atoi(e.Name())
			fds[n] = true
		}
	}
	return fds
}

// TestReconnectDuringSendIsNotDurableByAccident: a Connect (the
// dispatcher's, after another worker found the folder gone) replaces the
// sync group while a Send is still writing, and closes the old one's
// folder handle; its descriptor number is then free for the next file or
// socket the process opens. The Send, committing through the old group,
// synced whatever now had that number (syncfs of a pipe or socket
// succeeds), and reported the bundle durable without the outbox's disk
// having been synced: acknowledged before fsync. It must fail, to be
// retried, instead.
func TestReconnectDuringSendIsNotDurableByAccident(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	s := New(dir)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	old := dirFDs(t, dir)
	if len(old) != 1 {
		t.Skipf("no folder handle for the sync group (kernel before 5.8?): %v", old)
	}
	pr, pw := io.Pipe()
	body := []byte(`{"resourceType":"Bundle","type":"transaction"}`)
	it := &queue.Item{ID: "01JSLOW0000000000000000000", Size: int64(len(body)), Open: func() (io.ReadCloser, error) { return pr, nil }}
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, it) }()
	pw.Write(body[:10]) // the Send holds the old group now
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// The next descriptors the process opens take the freed number.
	reused := false
	for range 64 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		if old[int(r.Fd())] || old[int(w.Fd())] {
			reused = true
			break
		}
	}
	if !reused {
		t.Skip("the old handle's descriptor number was not reused")
	}
	pw.Write(body[10:])
	pw.Close()
	err := <-done
	if err == nil {
		t.Fatal("send committed through a closed sync group reported success: the outbox's disk was never synced")
	}
	if queue.IsPermanent(err) {
		t.Fatalf("send during a reconnect: %v, want a retryable error", err)
	}
	if err := s.Send(ctx, &queue.Item{ID: it.ID, Body: body}); err != nil {
		t.Fatalf("retry after the reconnect: %v", err)
	}
}
