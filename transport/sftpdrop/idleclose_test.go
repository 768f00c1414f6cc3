package sftpdrop

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// TestIdleSessionClosedByServer: a server that ends idle sessions
// (OpenSSH's ClientAliveInterval, the idle timeout of the commercial SFTP
// servers exchanges run) had closed the session kept since the last
// delivery, and the next bundle was written into it: it failed as
// "connection lost", a delivery failure to the dispatcher, so at a
// clinic sending a bundle every half hour each one logged "delivery
// failing; retrying with backoff", counted a retry, showed the exchange
// failing in ferry status, and went only after the backoff. A session the server has closed is one the sink no longer has:
// the Send asks for a connection (ErrNotConnected), which the dispatcher
// makes before sending the item at once.
func TestIdleSessionClosedByServer(t *testing.T) {
	f := newFixture(t)
	s := f.sink(t)
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, &queue.Item{ID: "01JE", Body: []byte(bundle)}); err != nil {
		t.Fatal(err)
	}
	sess := s.current()
	f.site.Server.Hangup()
	<-sess.Done() // ferry's side has seen the server end it
	it := &queue.Item{ID: "01JF", Body: []byte(bundle)}
	if err := s.Send(ctx, it); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("send on a session the server ended while idle: %v, want ErrNotConnected", err)
	}
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, it); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.files(t), " "); got != "01JE.json 01JF.json" {
		t.Fatalf("drop directory holds %q", got)
	}
}
