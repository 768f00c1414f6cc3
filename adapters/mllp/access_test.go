package mllp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// syncBuffer is a log destination safe for the source's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startLogged is start with the source's log going to a buffer.
func startLogged(t *testing.T, cfg Config, next adapters.Consumer) (*Source, *syncBuffer) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	logs := &syncBuffer{}
	s, err := New(adapters.Settings{ID: "mllp/test", Logger: slog.New(slog.NewTextHandler(logs, nil))}, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, logs
}

// closedWithoutReply reads from c until the server hangs up and fails the
// test if any byte came back.
func closedWithoutReply(t *testing.T, c net.Conn) {
	t.Helper()
	b, err := io.ReadAll(c)
	if len(b) != 0 {
		t.Fatalf("got %d bytes (%q) from a connection that should be closed without a reply", len(b), b)
	}
	// A reset (the server closed with our message unread) is as good as EOF.
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v", err)
	}
}

func waitStats(t *testing.T, s *Source, ok func(Stats) bool) Stats {
	t.Helper()
	for !ok(s.Stats()) {
		time.Sleep(time.Millisecond)
	}
	return s.Stats()
}

// TestSourceAllowRefusesOthers: a connection from an address outside
// allow is closed without an ACK, its message never reaches the consumer,
// it is counted, and the warning (with the remote IP) is logged once for
// a burst of refusals rather than once per connection.
func TestSourceAllowRefusesOthers(t *testing.T) {
	rec := &recorder{}
	s, logs := startLogged(t, Config{Allow: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"),
	}}, rec)
	const tries = 5
	for i := 0; i < tries; i++ {
		c := dial(t, s)
		_ = WriteFrame(c, msg("INJECTED")) // may fail: the server may have closed already
		closedWithoutReply(t, c)
	}
	st := waitStats(t, s, func(st Stats) bool { return st.Denied == tries })
	if st.Connections != 0 || st.Messages != 0 || st.Open != 0 || len(rec.bodies()) != 0 {
		t.Fatalf("stats = %+v, consumer got %d messages", st, len(rec.bodies()))
	}
	out := logs.String()
	if n := strings.Count(out, "address not in allow"); n != 1 {
		t.Fatalf("refusal logged %d times for %d refusals, want once:\n%s", n, tries, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "remote_ip=127.0.0.1") {
		t.Errorf("warning lacks level or remote IP:\n%s", out)
	}
	if strings.Contains(out, "INJECTED") {
		t.Errorf("message content in the log:\n%s", out)
	}
}

// TestSourceAllowBeforeTLS: the allow check comes before the TLS handshake,
// so a refused client does not even get the server's certificate.
func TestSourceAllowBeforeTLS(t *testing.T) {
	srv, cli := testTLS(t)
	s := start(t, Config{TLS: srv, Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, &recorder{})
	c, err := tls.Dial("tcp", s.Addr().String(), cli)
	if err == nil {
		c.Close()
		t.Fatal("TLS handshake succeeded from an address outside allow")
	}
	st := waitStats(t, s, func(st Stats) bool { return st.Denied == 1 })
	if st.TLSHandshakes != 0 || st.Connections != 0 {
		t.Errorf("stats = %+v: the server took part in a handshake", st)
	}
}

// TestSourceAllowAdmits: addresses inside allow are served as before, over
// IPv4 and IPv6, and an IPv4 prefix does not admit an IPv6 peer.
func TestSourceAllowAdmits(t *testing.T) {
	s := start(t, Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16"), netip.MustParsePrefix("127.0.0.1/32")}}, &recorder{})
	if code, _ := msa(dial(t, s).roundTrip(t, msg("V4"))); code != "AA" {
		t.Fatalf("allowed IPv4 sender: %s", code)
	}

	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	s6 := start(t, Config{Listen: "[::1]:0", Allow: []netip.Prefix{netip.MustParsePrefix("::1/128")}}, &recorder{})
	if code, _ := msa(dial(t, s6).roundTrip(t, msg("V6"))); code != "AA" {
		t.Fatalf("allowed IPv6 sender: %s", code)
	}
	s6v4 := start(t, Config{Listen: "[::1]:0", Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, &recorder{})
	closedWithoutReply(t, dial(t, s6v4))
	waitStats(t, s6v4, func(st Stats) bool { return st.Denied == 1 })
}

// TestAllowMatching covers what loopback cannot: IPv4-mapped peers of a
// dual-stack listener and IPv4-mapped prefixes.
func TestAllowMatching(t *testing.T) {
	s, err := New(adapters.Settings{}, Config{Allow: []netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/24"), // host bits set: masked
		netip.MustParsePrefix("::ffff:192.168.0.0/112"),
		netip.MustParsePrefix("fd00::/8"),
	}}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.1.2.200":         true,
		"10.1.3.1":           false,
		"192.168.44.5":       true,
		"192.169.0.1":        false,
		"fd12::5":            true,
		"fe80::1":            false,
		"::ffff:10.1.2.9":    true, // an IPv4 peer on a dual-stack socket
		"::ffff:172.16.0.1":  false,
		"2001:db8::10.1.2.9": false,
	} {
		conn := fakeConn{remote: &net.TCPAddr{IP: net.ParseIP(addr), Port: 4000}}
		if got := s.allowed(remoteIP(conn)); got != want {
			t.Errorf("%s: allowed = %v, want %v", addr, got, want)
		}
	}
	open, _ := New(adapters.Settings{}, Config{}, &recorder{})
	if !open.allowed(netip.MustParseAddr("203.0.113.9")) {
		t.Error("an empty allow list must admit every address")
	}
}

type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }

// TestLogLimiter: one message per interval passes; the next one to pass
// says how many were held back.
func TestLogLimiter(t *testing.T) {
	l := logLimiter{every: time.Minute}
	t0 := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	if ok, n := l.allow(t0); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for i := 1; i <= 1000; i++ {
		if ok, _ := l.allow(t0.Add(time.Duration(i) * 50 * time.Millisecond)); ok {
			t.Fatalf("message %d within the interval passed", i)
		}
	}
	if ok, n := l.allow(t0.Add(time.Minute)); !ok || n != 1000 {
		t.Fatalf("after the interval: %v %d, want true 1000", ok, n)
	}
}

// TestSourceMaxConnsPerIP: one address may hold at most max_conns_per_ip
// connections; the next is closed at accept, and a slot freed by a closed
// connection can be used again.
func TestSourceMaxConnsPerIP(t *testing.T) {
	s, logs := startLogged(t, Config{MaxConnsPerIP: 2}, &recorder{})
	c1, c2 := dial(t, s), dial(t, s)
	for i, c := range []*client{c1, c2} {
		if code, _ := msa(c.roundTrip(t, msg("P"+string(rune('1'+i))))); code != "AA" {
			t.Fatalf("connection %d: %s", i+1, code)
		}
	}
	c3 := dial(t, s)
	closedWithoutReply(t, c3)
	st := waitStats(t, s, func(st Stats) bool { return st.Rejected == 1 })
	if st.Open != 2 {
		t.Errorf("stats = %+v", st)
	}
	if out := logs.String(); !strings.Contains(out, "limit=max_conns_per_ip") || !strings.Contains(out, "remote_ip=127.0.0.1") {
		t.Errorf("log:\n%s", out)
	}
	c1.Close()
	waitStats(t, s, func(st Stats) bool { return st.Open == 1 })
	if code, _ := msa(dial(t, s).roundTrip(t, msg("P4"))); code != "AA" {
		t.Fatalf("after a slot was freed: %s", code)
	}
	if code, _ := msa(c2.roundTrip(t, msg("P5"))); code != "AA" {
		t.Fatalf("existing connection: %s", code)
	}
}

// TestSourceFrameTimeoutCutsTrickler: a sender that keeps sending one byte
// well within read_timeout, but never ends its frame, is disconnected once
// frame_timeout has passed since the frame started (not before), without
// an ACK and without the partial message reaching the consumer.
func TestSourceFrameTimeoutCutsTrickler(t *testing.T) {
	const (
		readTimeout  = 400 * time.Millisecond
		frameTimeout = 1200 * time.Millisecond
		gap          = 40 * time.Millisecond
	)
	rec := &recorder{}
	s := start(t, Config{ReadTimeout: readTimeout, FrameTimeout: frameTimeout}, rec)
	c := dial(t, s)
	began := time.Now()
	if _, err := c.Write([]byte{StartBlock}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		body := msg("TRICKLE")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(gap):
			}
			if _, err := c.Write(body[i%len(body) : i%len(body)+1]); err != nil {
				return
			}
		}
	}()
	b, err := io.ReadAll(bufio.NewReader(c))
	took := time.Since(began)
	close(stop)
	<-trickled
	if len(b) != 0 || err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read %q, %v; want the connection closed without a reply", b, err)
	}
	if took < frameTimeout {
		t.Fatalf("cut after %v, before frame_timeout %v", took, frameTimeout)
	}
	st := waitStats(t, s, func(st Stats) bool { return st.Open == 0 })
	if st.FrameTimeouts != 1 || st.ReadFailures != 1 || st.Messages != 0 || len(rec.bodies()) != 0 {
		t.Errorf("stats = %+v, consumer got %d", st, len(rec.bodies()))
	}
}

// TestReaderBufferBoundedByLimit: assembling a frame just under the limit
// reserves no more than the limit (append's doubling alone would reserve
// up to twice), and the large buffer is let go before the next frame.
func TestReaderBufferBoundedByLimit(t *testing.T) {
	const limit = 3 << 20
	body := bytes.Repeat([]byte("OBX|1|ED|PDF||"+strings.Repeat("A", 80)+"\r"), limit/90)
	body = body[:limit-1]
	stream := append(AppendFrame(nil, body), AppendFrame(nil, msg("NEXT"))...)
	r := NewReader(bytes.NewReader(stream), limit)
	f, err := r.ReadFrame()
	if err != nil || !bytes.Equal(f, body) {
		t.Fatalf("frame: %d bytes, %v", len(f), err)
	}
	if c := cap(r.buf); c > limit {
		t.Fatalf("frame buffer holds %d bytes for a limit of %d", c, limit)
	}
	if err := r.WaitFrame(); err != nil {
		t.Fatal(err)
	}
	if r.buf != nil {
		t.Errorf("a %d-byte frame buffer was kept between frames", cap(r.buf))
	}
	if f, err := r.ReadFrame(); err != nil || !bytes.Equal(f, msg("NEXT")) {
		t.Fatalf("next frame: %q, %v", f, err)
	}
}
