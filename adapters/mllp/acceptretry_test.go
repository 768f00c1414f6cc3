package mllp

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// failingListener is a real listener whose first accepts fail with the
// errors the system gives when it is short of sockets or buffers, or when
// the connection being accepted failed on its way in: those cannot be
// brought about on demand, so they are wrapped as the net package wraps
// them.
type failingListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// fatalHost records what a component reports as fatal.
type fatalHost struct{ errs atomic.Int64 }

func (h *fatalHost) ReportFatalError(error) { h.errs.Add(1) }

// TestAcceptFailureRetried: an accept that fails for the moment or for
// the one connection (Windows' WSAENOBUFS and WSAEMFILE, which syscall's
// Temporary does not know; Linux's ENOBUFS and ENOMEM, and the network
// errors of a new connection that accept(2) says to treat "like EAGAIN by
// retrying") stopped the listener and was reported fatal, which stops the
// gateway and every other feed with it. It is retried after a pause, as
// EMFILE was, and the next sender is served.
func TestAcceptFailureRetried(t *testing.T) {
	var errs []error
	for _, e := range acceptErrnos {
		errs = append(errs, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError(acceptCall, e)})
	}
	defer func(l func(string, string) (net.Listener, error)) { listen = l }(listen)
	listen = func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		return &failingListener{Listener: ln, errs: errs}, nil
	}
	logs := &syncBuffer{}
	s, err := New(adapters.Settings{ID: "mllp/test", Logger: slog.New(slog.NewTextHandler(logs, nil))},
		Config{Listen: "127.0.0.1:0"}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	host := &fatalHost{}
	if err := s.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	c := dial(t, s)
	// Accepted by the system whatever the listener does: without an
	// accept loop the ACK never comes.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if code, _ := msa(c.roundTrip(t, msg("R1"))); code != "AA" {
		t.Fatalf("after failed accepts: %s", code)
	}
	if n := host.errs.Load(); n != 0 {
		t.Errorf("%d failed accepts reported fatal", n)
	}
	if n := strings.Count(logs.String(), "mllp accept failed; retrying"); n != len(errs) {
		t.Errorf("%d of %d failed accepts logged:\n%s", n, len(errs), logs.String())
	}
}
