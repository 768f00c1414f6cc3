package mllp

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// fullListener is a real listener whose connections can be made to send
// as a socket does when its send buffer and the peer's receive window are
// full of answers the peer never read (fullSendConn).
type fullListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*fullSendConn
}

func (l *fullListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &fullSendConn{Conn: c, closed: make(chan struct{}), moved: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, fc)
	l.mu.Unlock()
	return fc, nil
}

// fill makes every connection accepted so far send nothing more.
func (l *fullListener) fill() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.full.Store(true)
	}
}

// fullSendConn is a real TCP connection whose writes, once full is set,
// block as a socket's do when nothing more fits in its send buffer: until
// the write deadline passes or the connection is closed. Linux wakes a
// blocked writer only once a third of the buffer is free, so an ACK that
// has just filled it exactly, the connection then idle, happens now and
// then (a few percent of the senders that stop reading) and cannot be
// brought about on demand.
type fullSendConn struct {
	net.Conn
	full      atomic.Bool
	fillNext  atomic.Bool // full once the next write has gone out
	mu        sync.Mutex
	deadline  time.Time
	moved     chan struct{} // closed and replaced when the deadline moves
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *fullSendConn) Write(p []byte) (int, error) {
	if !c.full.Load() {
		n, err := c.Conn.Write(p)
		if err == nil && c.fillNext.Load() {
			c.full.Store(true)
		}
		return n, err
	}
	for {
		c.mu.Lock()
		d, moved := c.deadline, c.moved
		c.mu.Unlock()
		var expire <-chan time.Time
		if !d.IsZero() {
			if !time.Now().Before(d) {
				return 0, &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}
			}
			expire = time.After(time.Until(d))
		}
		select {
		case <-c.closed:
			return 0, &net.OpError{Op: "write", Net: "tcp", Err: net.ErrClosed}
		case <-moved:
		case <-expire:
		}
	}
}

func (c *fullSendConn) setWrite(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	close(c.moved)
	c.moved = make(chan struct{})
	c.mu.Unlock()
}

func (c *fullSendConn) SetWriteDeadline(t time.Time) error {
	c.setWrite(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *fullSendConn) SetDeadline(t time.Time) error {
	c.setWrite(t)
	return c.Conn.SetDeadline(t)
}

func (c *fullSendConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestShutdownIdleTLSPeerNotReading: Shutdown closed each idle connection
// itself, one after the other and holding the listener's lock, and over
// TLS Close first sends close_notify with a write deadline of 5 s of its
// own: a sender that had stopped reading (its receive window full of ACKs
// it never read) held the stop 5 s for each such connection, and every
// connection's goroutine waiting on the lock with it, so a handful of
// them spent the gateway's whole stop (30 s) and left delivery and the
// audit trail none. The connections are closed outside the lock, all at
// once, each given a moment for its close_notify before its TCP
// connection is closed; the messages they ACKed stay stored.
func TestShutdownIdleTLSPeerNotReading(t *testing.T) {
	defer func(l func(string, string) (net.Listener, error)) { listen = l }(listen)
	fl := &fullListener{}
	listen = func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		fl.Listener = ln
		return fl, nil
	}
	srv, cli := testTLS(t)
	rec := &recorder{}
	s := start(t, Config{TLS: srv}, rec)
	const senders = 4
	for i := range senders {
		c := dialAs(t, s, cli)
		if code, _ := msa(c.roundTrip(t, msg("IDLE"+string(rune('A'+i))))); code != "AA" {
			t.Fatalf("sender %d: %s", i, code)
		}
	}
	waitIdle(t, s, senders)
	fl.fill()

	// Each such connection costs 5 s when closed on its own: the stop
	// must end well before the first would have.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	err := s.Shutdown(ctx)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("shutdown with %d idle TLS senders not reading: %v (context: %v)", senders, err, ctx.Err())
	}
	if st := s.Stats(); st.Open != 0 {
		t.Errorf("open connections after shutdown: %+v", st)
	}
	if got := rec.bodies(); len(got) != senders {
		t.Errorf("%d messages stored, want the %d ACKed", len(got), senders)
	}
}

// waitIdle waits until s has n connections, none of them busy with a
// message.
func waitIdle(t *testing.T, s *Source, n int) {
	t.Helper()
	for {
		s.mu.Lock()
		idle := len(s.conns) == n
		for c := range s.conns {
			idle = idle && !c.busy
		}
		s.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestShutdownAnsweredTLSPeerNotReading: a connection storing a message
// when the stop began writes its ACK and is closed by its own goroutine,
// and over TLS that Close sent close_notify with crypto/tls's write
// deadline of 5 s: a sender that does not read, whose ACK filled what the
// connection could send, held the stop those 5 s after its message was
// stored and answered, beside stopGrace. The connection's TCP connection
// is closed under it once closeNotifyWait has passed, as an idle one's.
func TestShutdownAnsweredTLSPeerNotReading(t *testing.T) {
	defer func(l func(string, string) (net.Listener, error)) { listen = l }(listen)
	fl := &fullListener{}
	listen = func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		fl.Listener = ln
		return fl, nil
	}
	srv, cli := testTLS(t)
	storing, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{answer: func(adapters.Raw) error {
		close(storing)
		<-release
		return nil
	}}
	s, logs := startLogged(t, Config{TLS: srv}, rec)
	c := dialAs(t, s, cli)
	if err := WriteFrame(c, msg("LAST1")); err != nil {
		t.Fatal(err)
	}
	<-storing
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	for !strings.Contains(logs.String(), "storing=1") {
		time.Sleep(time.Millisecond)
	}
	fl.mu.Lock()
	fl.conns[0].fillNext.Store(true) // the ACK fills what it can send
	fl.mu.Unlock()
	close(release)
	if err := <-done; err != nil || ctx.Err() != nil {
		t.Fatalf("shutdown with an answered TLS sender not reading: %v (context: %v)", err, ctx.Err())
	}
	if st := s.Stats(); st.Accepted != 1 || st.Open != 0 {
		t.Errorf("stats after shutdown: %+v", st)
	}
}
