package sftpdrop

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// syncBuffer is a log written by the sink's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoFsyncWarnedOnce: that the server offers no fsync@openssh.com is
// a fact of the server, said once: it was a WARN at every connection,
// so a server that ends idle sessions (the commercial servers without
// fsync@openssh.com among them) put it in the log before every bundle
// of a clinic sending one every half hour, and an outage's reconnects
// each added one.
func TestNoFsyncWarnedOnce(t *testing.T) {
	f := newFixture(t)
	var logs syncBuffer
	s, err := New(f.cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	for _, id := range []string{"01JG", "01JH", "01JJ"} {
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Send(ctx, &queue.Item{ID: id, Body: []byte(bundle)}); err != nil {
			t.Fatal(err)
		}
		sess := s.current()
		f.site.Server.Hangup() // an idle timeout
		sess.SSH.Wait()
		s.forget(sess)
	}
	if n := strings.Count(logs.String(), "fsync@openssh.com"); n != 1 {
		t.Errorf("the missing fsync@openssh.com was said %d times over three connections, want once:\n%s", n, logs.String())
	}
}
