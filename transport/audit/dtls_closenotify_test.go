package audit

import (
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/pki"
)

// startClosingDTLSRepo is startDTLSRepo for a repository that ends each
// association with close_notify once it has read one record, as a
// receiver that closes idle associations (RFC 6012 §5.5) or one that is
// stopped gracefully does.
func startClosingDTLSRepo(t *testing.T, p pki.Paths) (*repo, string) {
	t.Helper()
	l := listenDTLSRepo(t, p)
	r := newRepo()
	var wg sync.WaitGroup
	var closed atomic.Bool
	t.Cleanup(func() { closed.Store(true); l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				if closed.Load() {
					return
				}
				continue // a failed handshake
			}
			buf := make([]byte, 1<<16)
			n, err := c.Read(buf)
			if err == nil {
				r.addRecord(append([]byte(nil), buf[:n]...), true, false)
			}
			c.Close() // close_notify
		}
	}()
	return r, l.Addr().String()
}

// TestDTLSRepositoryCloseNotify: a DTLS repository that ends an
// association with close_notify has not gone away (RFC 6012 §5.5 lets a
// receiver close an association it got nothing on for long, after an
// exchange of close_notify alerts). The sink lets the association go, as
// it does a tls:// connection closed cleanly, and the next event opens a
// new one at once: it is not logged as the repository unreachable, nor
// spooled to wait for RedialInterval.
func TestDTLSRepositoryCloseNotify(t *testing.T) {
	p := demoPKI(t)
	r, addr := startClosingDTLSRepo(t, p)
	var logs syncBuffer
	s := newSink(t, "dtls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		// Long enough that only a dial at once gets event 1 out
		// before the test's deadline.
		o.RedialInterval = time.Hour
	})
	start(t, s)
	s.Record(exportN(0))
	r.waitN(t, 1)
	waitStats(t, s, "the closed association let go", func(st Stats) bool { return !st.Connected })
	s.Record(exportN(1))
	wantOrder(t, bundleOrder(t, r.waitN(t, 2)), 0, 2)
	st := waitStats(t, s, "sent", func(st Stats) bool { return st.Sent == 2 && st.Pending == 0 })
	if st.LastError != "" || strings.Contains(logs.String(), "unreachable") {
		t.Errorf("an association the repository closed with close_notify was reported as an outage: %+v\n%s", st, logs.String())
	}
	shutdown(t, s)
}
