package mllp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
)

// recorder is a real Consumer: it parses the message like the gateway's
// converter does, remembers what it got, and answers as configured.
type recorder struct {
	mu     sync.Mutex
	got    []adapters.Raw
	answer func(in adapters.Raw) error
}

func (r *recorder) Consume(ctx context.Context, in adapters.Raw) error {
	var err error
	if r.answer != nil {
		err = r.answer(in)
	}
	if err == nil {
		if _, perr := hl7v2.Parse(in.Body); perr != nil {
			err = queue.Permanent(fmt.Errorf("convert %s: %w", in.Name, perr))
		}
	}
	r.mu.Lock()
	r.got = append(r.got, in)
	r.mu.Unlock()
	return err
}

func (r *recorder) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, in := range r.got {
		out = append(out, string(in.Body))
	}
	return out
}

func msg(id string) []byte {
	return []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01^ADT_A01|" + id + "|P|2.5.1\rEVN|A01|20261125120000\rPID|1||" + id + "^^^HOSP^MR||DOE^JANE||19800101|F\r")
}

func start(t *testing.T, cfg Config, next adapters.Consumer) *Source {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	s, err := New(adapters.Settings{ID: "mllp/test"}, cfg, next)
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
	return s
}

type client struct {
	net.Conn
	r *Reader
}

func dial(t *testing.T, s *Source) *client {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, r: NewReader(c, 0)}
}

// roundTrip sends one message and returns the ACK's segments split on '|'.
func (c *client) roundTrip(t *testing.T, m []byte) [][]string {
	t.Helper()
	if err := WriteFrame(c, m); err != nil {
		t.Fatal(err)
	}
	return c.ack(t)
}

func (c *client) ack(t *testing.T) [][]string {
	t.Helper()
	f, err := c.r.ReadFrame()
	if err != nil {
		t.Fatalf("read ack: %v", err)
	}
	var segs [][]string
	for _, s := range strings.Split(strings.TrimSuffix(string(f), "\r"), "\r") {
		segs = append(segs, strings.Split(s, "|"))
	}
	return segs
}

func msa(segs [][]string) (code, id string) {
	for _, s := range segs {
		if s[0] == "MSA" && len(s) >= 3 {
			return s[1], s[2]
		}
	}
	return "", ""
}

func TestSourceAcksInOrderOnOneConnection(t *testing.T) {
	rec := &recorder{}
	s := start(t, Config{}, rec)
	c := dial(t, s)
	for i := range 20 {
		id := fmt.Sprintf("C%03d", i)
		// Junk between frames must not matter.
		_, _ = c.Write([]byte("\r\n"))
		segs := c.roundTrip(t, msg(id))
		if code, got := msa(segs); code != "AA" || got != id {
			t.Fatalf("msg %d: MSA %s %s", i, code, got)
		}
		// The ACK arrived, so Consume must already have the message.
		if b := rec.bodies(); len(b) != i+1 || b[i] != string(msg(id)) {
			t.Fatalf("consumer has %d messages after ack %d", len(b), i)
		}
	}
	rec.mu.Lock()
	in := rec.got[3]
	rec.mu.Unlock()
	if in.Source != "mllp/test" || in.Format != "hl7v2" || in.Name != "conn 1 msg 4" || in.Meta["remote"] == "" || in.Received.IsZero() {
		t.Errorf("raw = %+v", in)
	}
	if st := s.Stats(); st.Messages != 20 || st.Accepted != 20 || st.JunkBytes != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestSourceAckOnlyAfterConsumeReturns proves the durability invariant: while
// Consume has not returned, the sender has no ACK.
func TestSourceAckOnlyAfterConsumeReturns(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{answer: func(adapters.Raw) error { close(entered); <-release; return nil }}
	s := start(t, Config{}, rec)
	c := dial(t, s)
	if err := WriteFrame(c, msg("D1")); err != nil {
		t.Fatal(err)
	}
	<-entered
	_ = c.SetReadDeadline(time.Now())
	var b [1]byte
	if n, err := c.Read(b[:]); n != 0 || !isTimeout(err) {
		t.Fatalf("got %d bytes (%v) before Consume returned", n, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	close(release)
	if code, id := msa(c.ack(t)); code != "AA" || id != "D1" {
		t.Fatalf("MSA %s %s", code, id)
	}
}

func TestSourceConcurrentConnectionsKeepOrder(t *testing.T) {
	rec := &recorder{}
	s := start(t, Config{}, rec)
	const conns, per = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for k := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			r := NewReader(nc, 0)
			for i := range per {
				id := fmt.Sprintf("K%dM%d", k, i)
				if err := WriteFrame(nc, msg(id)); err != nil {
					errs <- err
					return
				}
				f, err := r.ReadFrame()
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Contains(f, []byte("MSA|AA|"+id+"\r")) {
					errs <- fmt.Errorf("ack for %s: %q", id, f)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Per connection, the consumer saw the messages in the order sent.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != conns*per {
		t.Fatalf("consumer got %d, want %d", len(rec.got), conns*per)
	}
	order := map[string][]string{}
	for _, in := range rec.got {
		id := strings.Split(string(in.Body), "|")[9]
		order[in.Meta["conn"]] = append(order[in.Meta["conn"]], id)
	}
	for conn, ids := range order {
		k := ids[0][:strings.IndexByte(ids[0], 'M')]
		for i, id := range ids {
			if id != fmt.Sprintf("%sM%d", k, i) {
				t.Fatalf("conn %s: position %d holds %s", conn, i, id)
			}
		}
	}
}

func TestSourceAckCodes(t *testing.T) {
	rec := &recorder{answer: func(in adapters.Raw) error {
		switch {
		case bytes.Contains(in.Body, []byte("|TRANSIENT|")):
			return errors.New("queue put: disk full")
		case bytes.Contains(in.Body, []byte("ZZZ^Z01")):
			return queue.Permanent(&hl7v2.AckError{Code: "AR", ErrCode: hl7v2.ErrUnsupportedType, Segment: "MSH", Field: 9, Text: "message type ZZZ is not supported"})
		}
		return nil
	}}
	s := start(t, Config{}, rec)
	c := dial(t, s)

	// Malformed: the header is readable but a segment is broken → AE + ERR.
	bad := []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125||ADT^A01|BAD1|P|2.5\rP\x01D|1\r")
	segs := c.roundTrip(t, bad)
	if code, id := msa(segs); code != "AE" || id != "BAD1" || len(segs) != 3 || segs[2][0] != "ERR" || segs[2][4] != "E" {
		t.Fatalf("malformed: %q", segs)
	}
	// Not HL7 at all → AE, MSA-2 empty.
	segs = c.roundTrip(t, []byte("hello"))
	if code, id := msa(segs); code != "AE" || id != "" || segs[2][0] != "ERR" {
		t.Fatalf("not hl7: %q", segs)
	}
	// Transient failure → AR.
	segs = c.roundTrip(t, []byte(strings.Replace(string(msg("T1")), "|P|", "|TRANSIENT|", 1)))
	if code, _ := msa(segs); code != "AR" {
		t.Fatalf("transient: %q", segs)
	}
	// Unsupported type → AR with ERR-3 200.
	segs = c.roundTrip(t, []byte(strings.Replace(string(msg("U1")), "ADT^A01^ADT_A01", "ZZZ^Z01", 1)))
	if code, _ := msa(segs); code != "AR" || !strings.HasPrefix(segs[2][3], "200^") {
		t.Fatalf("unsupported: %q", segs)
	}
	// Enhanced mode → CA, sender and receiver swapped.
	enh := []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125||ORU^R01^ORU_R01|E1|P|2.5.1|||AL|NE\rPID|1\r")
	segs = c.roundTrip(t, enh)
	if code, id := msa(segs); code != "CA" || id != "E1" || segs[0][2] != "FERRY" || segs[0][4] != "SEND" || segs[0][8] != "ACK^R01^ACK" {
		t.Fatalf("enhanced: %q", segs)
	}
	if st := s.Stats(); st.Accepted != 1 || st.Errors != 2 || st.Rejects != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSourceConsumerPanicGivesAR(t *testing.T) {
	s := start(t, Config{}, adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { panic("converter bug") }))
	c := dial(t, s)
	for range 2 { // the connection survives
		if code, id := msa(c.roundTrip(t, msg("P1"))); code != "AR" || id != "P1" {
			t.Fatalf("MSA %s %s", code, id)
		}
	}
}

func TestSourceOversizedFrame(t *testing.T) {
	rec := &recorder{}
	s := start(t, Config{MaxFrameBytes: 1024}, rec)
	c := dial(t, s)
	big := append(msg("BIG1"), bytes.Repeat([]byte("OBX|1|TX|||"+strings.Repeat("x", 100)+"\r"), 100)...)
	segs := c.roundTrip(t, big)
	if code, id := msa(segs); code != "AR" || id != "BIG1" || !strings.Contains(segs[2][8], "exceeds the limit of 1024 bytes") {
		t.Fatalf("oversized: %q", segs)
	}
	if _, err := c.r.ReadFrame(); err != io.EOF {
		t.Fatalf("connection should be closed after an oversized frame, got %v", err)
	}
	if len(rec.bodies()) != 0 {
		t.Fatal("oversized frame reached the consumer")
	}
	if st := s.Stats(); st.Oversized != 1 || st.Rejects != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSourceIdleTimeoutClosesConnection(t *testing.T) {
	s := start(t, Config{IdleTimeout: 20 * time.Millisecond}, &recorder{})
	c := dial(t, s)
	if code, _ := msa(c.roundTrip(t, msg("I1"))); code != "AA" {
		t.Fatal("first message")
	}
	// Nothing more is sent: the server must hang up by itself.
	if _, err := c.r.ReadFrame(); err != io.EOF {
		t.Fatalf("want EOF after idle timeout, got %v", err)
	}
}

func TestSourceReadTimeoutMidFrame(t *testing.T) {
	s := start(t, Config{ReadTimeout: 20 * time.Millisecond}, &recorder{})
	c := dial(t, s)
	_, _ = c.Write([]byte("\x0bMSH|^~\\&|partial"))
	if _, err := c.r.ReadFrame(); err != io.EOF {
		t.Fatalf("want EOF after read timeout, got %v", err)
	}
	for s.Stats().Open != 0 {
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); st.ReadFailures != 1 || st.Messages != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSourceMaxConns(t *testing.T) {
	s := start(t, Config{MaxConns: 1}, &recorder{})
	c1 := dial(t, s)
	if code, _ := msa(c1.roundTrip(t, msg("A"))); code != "AA" {
		t.Fatal("first connection")
	}
	c2 := dial(t, s)
	if _, err := c2.r.ReadFrame(); err == nil {
		t.Fatal("second connection should be closed")
	}
	if s.Stats().Rejected != 1 {
		t.Errorf("stats = %+v", s.Stats())
	}
}

func TestSourceTLS(t *testing.T) {
	ca, err := pki.NewCA("ferry test ca")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := ca.Issue("localhost", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}, false)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey, err := ca.Issue("ehr-sender", nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := tls.X509KeyPair(srvCert, srvKey)
	cli, _ := tls.X509KeyPair(cliCert, cliKey)
	rec := &recorder{}
	s := start(t, Config{TLS: &tls.Config{
		Certificates: []tls.Certificate{srv}, ClientCAs: ca.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}}, rec)

	tc, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cli}, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := &client{Conn: tc, r: NewReader(tc, 0)}
	if code, id := msa(c.roundTrip(t, msg("TLS1"))); code != "AA" || id != "TLS1" {
		t.Fatalf("MSA %s %s", code, id)
	}
	rec.mu.Lock()
	meta := rec.got[0].Meta
	rec.mu.Unlock()
	if meta["tls_client"] != "ehr-sender" || !strings.HasPrefix(meta["tls"], "TLS 1.") {
		t.Errorf("meta = %v", meta)
	}

	// Without a client certificate the handshake fails and nothing is consumed.
	nc, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err == nil {
		_ = WriteFrame(nc, msg("NOCERT"))
		_, err = NewReader(nc, 0).ReadFrame()
		nc.Close()
	}
	if err == nil {
		t.Fatal("client without certificate got an answer")
	}
	// A plain-TCP client gets nothing either.
	pc := dial(t, s)
	_ = WriteFrame(pc, msg("PLAIN"))
	if _, err := pc.r.ReadFrame(); err == nil {
		t.Fatal("plain client got an answer from a TLS listener")
	}
	if got := rec.bodies(); len(got) != 1 {
		t.Fatalf("consumer got %d messages, want 1", len(got))
	}
}

func TestSourceLifecycle(t *testing.T) {
	s, err := New(adapters.Settings{ID: "mllp/x"}, Config{Listen: "127.0.0.1:0"}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	// Shutdown without Start, twice.
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err == nil {
		t.Fatal("start after shutdown should fail")
	}
	// A second source can be created, started and stopped.
	s2, err := New(adapters.Settings{}, Config{Listen: "127.0.0.1:0"}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	addr := s2.Addr().String()
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still accepting after shutdown")
	}
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle connection not closed by shutdown")
	}
	if _, err := New(adapters.Settings{}, Config{Listen: "nonsense", MaxConns: -1}, &recorder{}); err == nil {
		t.Fatal("invalid config accepted")
	}
}

// TestSourceShutdownFinishesInFlight: a message being consumed when Shutdown
// starts still gets its ACK.
func TestSourceShutdownFinishesInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{answer: func(adapters.Raw) error { close(entered); <-release; return nil }}
	s, err := New(adapters.Settings{}, Config{Listen: "127.0.0.1:0"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	_ = WriteFrame(c, msg("F1"))
	<-entered
	done := make(chan error)
	go func() { done <- s.Shutdown(context.Background()) }()
	close(release)
	if code, id := msa(c.ack(t)); code != "AA" || id != "F1" {
		t.Fatalf("in-flight message: MSA %s %s", code, id)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c.r.ReadFrame(); err != io.EOF {
		t.Fatalf("connection should close after the in-flight message, got %v", err)
	}
}

// TestSourceShutdownDeadline: when the shutdown context ends first, the
// Consumer's context is cancelled and Shutdown still waits for it.
func TestSourceShutdownDeadline(t *testing.T) {
	entered := make(chan struct{})
	var consumeErr error
	rec := &recorder{answer: func(in adapters.Raw) error { close(entered); return nil }}
	blocking := adapters.ConsumerFunc(func(ctx context.Context, in adapters.Raw) error {
		_ = rec.Consume(ctx, in)
		<-ctx.Done()
		consumeErr = ctx.Err()
		return consumeErr
	})
	s, err := New(adapters.Settings{}, Config{Listen: "127.0.0.1:0"}, blocking)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	_ = WriteFrame(c, msg("S1"))
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("shutdown = %v, want context canceled", err)
	}
	if consumeErr == nil {
		t.Fatal("consumer context was not cancelled")
	}
	if f, err := c.r.ReadFrame(); err == nil && bytes.Contains(f, []byte("MSA|AA")) {
		t.Fatal("AA sent for a message whose Consume failed")
	}
}

// TestSourceCommitACK: with CommitACK (MLLP release 2) every message is
// answered with the transport commit acknowledgement when it is stored —
// converted, or quarantined with AE/AR — and with the negative one when it
// could not be stored, each before its HL7 ACK; the sender's own commit
// acknowledgements for ferry's ACKs are skipped.
func TestSourceCommitACK(t *testing.T) {
	rec := &recorder{answer: func(in adapters.Raw) error {
		if bytes.Contains(in.Body, []byte("|TRANSIENT|")) {
			return errors.New("queue put: disk full")
		}
		if bytes.Contains(in.Body, []byte("ZZZ^Z01")) {
			return queue.Permanent(&hl7v2.AckError{Code: "AR", ErrCode: hl7v2.ErrUnsupportedType, Segment: "MSH", Field: 9, Text: "message type ZZZ is not supported"})
		}
		return nil
	}}
	s := start(t, Config{CommitACK: true, MaxFrameBytes: 4096}, rec)
	c := dial(t, s)
	commit := func(want byte) {
		t.Helper()
		f, err := c.r.ReadFrame()
		if err != nil {
			t.Fatalf("read commit acknowledgement: %v", err)
		}
		if len(f) != 1 || f[0] != want {
			t.Fatalf("first frame %q, want the commit frame 0x%02x", f, want)
		}
	}
	for i, tc := range []struct {
		body   []byte
		commit byte
		code   string
	}{
		{msg("C1"), CommitACK, "AA"},
		{[]byte(strings.Replace(string(msg("C2")), "|P|", "|TRANSIENT|", 1)), CommitNAK, "AR"},
		{[]byte(strings.Replace(string(msg("C3")), "ADT^A01^ADT_A01", "ZZZ^Z01", 1)), CommitACK, "AR"},
		{msg("C4"), CommitACK, "AA"},
	} {
		if err := WriteFrame(c, tc.body); err != nil {
			t.Fatal(err)
		}
		commit(tc.commit)
		if code, _ := msa(c.ack(t)); code != tc.code {
			t.Fatalf("message %d: HL7 ACK %s, want %s", i+1, code, tc.code)
		}
		// A release 2 sender acknowledges ferry's ACK in turn.
		if err := WriteFrame(c, []byte{CommitACK}); err != nil {
			t.Fatal(err)
		}
	}
	// A frame over the limit is not stored: NAK, then AR, then close.
	big := append(msg("BIG"), bytes.Repeat([]byte("OBX|1|TX|||"+strings.Repeat("x", 100)+"\r"), 100)...)
	if err := WriteFrame(c, big); err != nil {
		t.Fatal(err)
	}
	commit(CommitNAK)
	if code, id := msa(c.ack(t)); code != "AR" || id != "BIG" {
		t.Fatalf("oversized: MSA %s %s", code, id)
	}
	if got := len(rec.bodies()); got != 4 {
		t.Fatalf("consumer saw %d messages, want 4 (commit frames are not messages)", got)
	}
}

// TestSourceNoCommitACKByDefault: release 1 senders get the HL7 ACK alone.
func TestSourceNoCommitACKByDefault(t *testing.T) {
	s := start(t, Config{}, &recorder{})
	c := dial(t, s)
	if code, id := msa(c.roundTrip(t, msg("R1"))); code != "AA" || id != "R1" {
		t.Fatalf("first frame is not the HL7 ACK: MSA %q %q", code, id)
	}
}
