package sftpdrop

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// heldReader gives its first bytes, says so on started, and gives the
// rest once release is closed: a body still being sent.
type heldReader struct {
	r       io.Reader
	first   bool
	started chan struct{}
	release chan struct{}
}

func (h *heldReader) Read(p []byte) (int, error) {
	if !h.first {
		h.first = true
		close(h.started)
		return h.r.Read(p[:min(len(p), 1024)])
	}
	<-h.release
	return h.r.Read(p)
}

// TestReconnectKeepsSessionInUse: the dispatcher's workers each ask for a
// connection when their Send finds none, one after another, so after a
// lost session the second worker's Connect came after the first's had
// made a new session and Sends had taken it: it dialled again and closed
// that session under them, and each such Send failed (with the outcome of
// a file it may have renamed unknown, so it waited for the unknown-outcome
// delay). A Connect that finds a session made since keeps it.
func TestReconnectKeepsSessionInUse(t *testing.T) {
	f := newFixture(t)
	s := f.sink(t)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 256<<10)
	h := &heldReader{r: bytes.NewReader(body), started: make(chan struct{}), release: make(chan struct{})}
	it := &queue.Item{ID: "01JD", Size: int64(len(body)), Open: func() (io.ReadCloser, error) { return io.NopCloser(h), nil }}
	sent := make(chan error, 1)
	go func() { sent <- s.Send(ctx, it) }()
	<-h.started
	// Another worker, whose Send found no session before this one was
	// made, now asks for a connection.
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	if err := <-sent; err != nil {
		t.Fatalf("send in flight during another worker's Connect: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(f.dir, "01JD.json")); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("01JD.json: %d bytes, %v", len(b), err)
	}
}
