package mllptls

import (
	"context"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestUnreadableBodyIsRetried: a queued body that cannot be read just now
// (too many open files, an I/O error on the data disk) is retried, as the
// HTTPS sink and the outbox retry it; only a body that reads but is not a
// bundle is the item's fault and dead-lettered.
func TestUnreadableBodyIsRetried(t *testing.T) {
	s, err := New(Config{URL: "mllps://127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	it := &queue.Item{ID: "01SPILLED", Size: 100, Attrs: map[string]string{"format": "hl7v2"},
		Open: func() (io.ReadCloser, error) {
			return nil, &fsError{syscall.EMFILE}
		}}
	err = s.Send(context.Background(), it)
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("unreadable body: %v, want a retryable error", err)
	}
	if !errors.Is(err, syscall.EMFILE) {
		t.Errorf("%v does not keep the cause", err)
	}
	it = &queue.Item{ID: "01JUNK", Body: []byte("not json"), Attrs: map[string]string{"format": "hl7v2"}}
	if err := s.Send(context.Background(), it); !queue.IsPermanent(err) {
		t.Fatalf("junk body: %v, want permanent", err)
	}
}

type fsError struct{ err error }

func (e *fsError) Error() string { return "open body: " + e.err.Error() }
func (e *fsError) Unwrap() error { return e.err }
