package audit

import (
	"bufio"
	"crypto/tls"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// startClosingTLSRepo is startTLSRepo for a repository that ends each
// connection (close_notify) once it has read one message, as one that
// closes idle connections, or a load balancer in front of it, does.
func startClosingTLSRepo(t *testing.T, p pki.Paths) (*repo, string) {
	t.Helper()
	tc, err := configtls.ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey, ClientCAFile: p.CA}.LoadTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	r := newRepo()
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			m, err := readFrame(bufio.NewReader(c))
			if err == nil {
				r.add(m, true)
			}
			c.Close()
		}
	}()
	return r, l.Addr().String()
}

// TestTLSRepositoryClosedIdleConnection: a repository that ends an idle
// connection has not gone away. The sink lets the connection go as it
// ends (ferry status no longer says connected to it), and the next event
// opens a new one; neither is logged as the repository unreachable and
// reachable again, a pair an IT contractor would read as an outage after
// every quiet spell.
func TestTLSRepositoryClosedIdleConnection(t *testing.T) {
	p := demoPKI(t)
	r, addr := startClosingTLSRepo(t, p)
	var logs syncBuffer
	s := newSink(t, "tls://"+addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	start(t, s)
	s.Record(exportN(0))
	r.waitN(t, 1)
	waitStats(t, s, "the closed connection let go", func(st Stats) bool { return !st.Connected })
	s.Record(exportN(1))
	wantOrder(t, bundleOrder(t, r.waitN(t, 2)), 0, 2)
	st := waitStats(t, s, "sent", func(st Stats) bool { return st.Sent == 2 && st.Pending == 0 })
	if st.LastError != "" || strings.Contains(logs.String(), "unreachable") {
		t.Errorf("an idle connection the repository closed was reported as an outage: %+v\n%s", st, logs.String())
	}
	shutdown(t, s)
}
