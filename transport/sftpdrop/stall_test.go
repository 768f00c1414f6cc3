package sftpdrop

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configssh/sshtest"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// TestStalledServerIsNamed: a server that stops answering mid-file (a
// hung sftp-server: the open, a write or the rename never answered) has
// its session closed by the watchdog; the error and the status say the
// server answered nothing for the timeout, not "connection lost", which
// sent the contractor after the network when the server was to blame;
// so for `ferry doctor`'s check.
func TestStalledServerIsNamed(t *testing.T) {
	f := newFixture(t)
	f.cfg.Timeout = time.Second
	s := f.sink(t)
	ctx := context.Background()
	const want = "answered nothing for 1s"
	for _, held := range []byte{sshtest.FxpOpen, sshtest.FxpWrite, sshtest.FxpExtended} {
		f.site.Server.Filter(func(body []byte) ([]byte, bool) { return nil, body[0] == held }, nil)
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		err := s.Send(ctx, &queue.Item{ID: "01JS", Body: []byte(bundle)})
		if err == nil || queue.IsPermanent(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("request %d held: send: %v", held, err)
		}
		if st := transport.Summary(err); !strings.Contains(st, want) {
			t.Errorf("request %d held: status %q", held, st)
		}
	}
	f.site.Server.Filter(func(body []byte) ([]byte, bool) { return nil, body[0] == sshtest.FxpOpen }, nil)
	if _, err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("check: %v", err)
	}
}
