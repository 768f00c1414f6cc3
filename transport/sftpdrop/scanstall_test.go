package sftpdrop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configssh/sshtest"
	"github.com/ferry-health/ferry/queue"
)

// TestConnectListingStalls: the first connection lists the directory for
// an earlier run's .part files; a server that stops answering there (a
// hung disk, the case the watchdog is for: it answered the login and the
// directory's stat) held Connect for ever, and with it the dispatcher's
// connection lock, so every worker waited, nothing was delivered or
// said, and a shutdown waited too. The listing is bounded by the
// timeout as a Send is: Connect fails saying the server answered
// nothing, and the next connection goes without the search, the
// earlier run's .part files left (they cost the server only disk
// space, and pick-up jobs skip them).
func TestConnectListingStalls(t *testing.T) {
	f := newFixture(t)
	f.cfg.Timeout = time.Second
	s := f.sink(t)
	left := filepath.Join(f.dir, ".01JAAAAAAAAAAAAAAAAAAAAAAA.json.abc.part")
	if err := os.WriteFile(left, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.site.Server.Filter(func(body []byte) ([]byte, bool) { return nil, body[0] == sshtest.FxpOpendir }, nil)
	connected := make(chan error, 1)
	go func() { connected <- s.Connect(context.Background()) }()
	select {
	case err := <-connected:
		if err == nil || !strings.Contains(err.Error(), "answered nothing for 1s") {
			t.Fatalf("connect to a server whose listing stalls: %v, want the stall named", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("connect to a server whose listing stalls has not returned in 30s (timeout 1s)")
	}
	if err := s.Connect(context.Background()); err != nil {
		t.Fatalf("next connect: %v", err)
	}
	if err := s.Send(context.Background(), &queue.Item{ID: "01JK", Body: []byte(bundle)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "01JK.json")); err != nil {
		t.Fatal(err)
	}
}
