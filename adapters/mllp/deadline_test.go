package mllp

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/pki"
)

// testTLS returns a server configuration requiring client certificates and
// a client configuration that has one, both from a throwaway CA.
func testTLS(t *testing.T) (srv, cli *tls.Config) {
	t.Helper()
	ca, err := pki.NewCA("ferry test ca")
	if err != nil {
		t.Fatal(err)
	}
	sc, sk, err := ca.Issue("localhost", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}, false)
	if err != nil {
		t.Fatal(err)
	}
	cc, ck, err := ca.Issue("slow-sender", nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{sp}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		&tls.Config{Certificates: []tls.Certificate{cp}, RootCAs: ca.Pool(), ServerName: "localhost"}
}

// dialAs connects plainly or, with cli set, over TLS.
func dialAs(t *testing.T, s *Source, cli *tls.Config) *client {
	t.Helper()
	if cli == nil {
		return dial(t, s)
	}
	tc, err := tls.Dial("tcp", s.Addr().String(), cli)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	return &client{Conn: tc, r: NewReader(tc, 0)}
}

// TestSourceSlowFrameIsNotCut: read_timeout is an inactivity limit. A frame
// that arrives in chunks, each well within the timeout of the one before
// but together taking several timeouts, is read whole and answered AA, and
// the connection stays usable. Over TLS too, where the deadline sits below
// the TLS layer.
func TestSourceSlowFrameIsNotCut(t *testing.T) {
	const (
		timeout = 500 * time.Millisecond
		chunks  = 15
		gap     = 100 * time.Millisecond // 15 × 100 ms ≈ 3 timeouts in all
	)
	srvTLS, cliTLS := testTLS(t)
	for _, tc := range []struct {
		name     string
		srv, cli *tls.Config
	}{{"tcp", nil, nil}, {"tls", srvTLS, cliTLS}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			s := start(t, Config{ReadTimeout: timeout, TLS: tc.srv}, rec)
			c := dialAs(t, s, tc.cli)
			body := append(msg("SLOW1"), bytes.Repeat([]byte("NTE|1||"+strings.Repeat("x", 200)+"\r"), 10)...)
			frame := AppendFrame(nil, body)
			size := (len(frame) + chunks - 1) / chunks
			began := time.Now()
			for i := 0; i < len(frame); i += size {
				if i > 0 {
					time.Sleep(gap)
				}
				if _, err := c.Write(frame[i:min(i+size, len(frame))]); err != nil {
					t.Fatalf("write chunk at %d: %v", i, err)
				}
			}
			if took := time.Since(began); took < 2*timeout {
				t.Fatalf("the frame took only %v to send; the test needs more than 2×%v", took, timeout)
			}
			if code, id := msa(c.ack(t)); code != "AA" || id != "SLOW1" {
				t.Fatalf("slow frame: MSA %s %s, want AA SLOW1", code, id)
			}
			if got := rec.bodies(); len(got) != 1 || got[0] != string(body) {
				t.Fatalf("consumer got %d messages (or a damaged body)", len(got))
			}
			// The connection is still in sync for the next message.
			if code, id := msa(c.roundTrip(t, msg("SLOW2"))); code != "AA" || id != "SLOW2" {
				t.Fatalf("next message: MSA %s %s", code, id)
			}
			if st := s.Stats(); st.ReadFailures != 0 || st.Accepted != 2 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// TestSourceSilentMidFrameAfterProgress: a sender that made progress and
// then falls silent inside a frame is still dropped, read_timeout after its
// last byte (never sooner; the upper bound is only a generous sanity bound),
// without an ACK and without the partial message reaching the consumer.
func TestSourceSilentMidFrameAfterProgress(t *testing.T) {
	// Long enough that a loaded machine (the race suite beside other
	// builds) does not stall the writer past it between two chunks,
	// which the server rightly answers by dropping the connection.
	const timeout = time.Second
	rec := &recorder{}
	s := start(t, Config{ReadTimeout: timeout}, rec)
	c := dial(t, s)
	frame := AppendFrame(nil, msg("STALL"))
	var last time.Time
	for i := 0; i < 4; i++ { // the first half, in progress-making chunks
		// Taken before the write: the server reads the chunk after it,
		// so its deadline is at least timeout after last.
		last = time.Now()
		if _, err := c.Write(frame[i*10 : i*10+10]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(timeout / 4)
	}
	_, err := c.r.ReadFrame()
	silent := time.Since(last)
	if err != io.EOF {
		t.Fatalf("want EOF once the sender fell silent, got %v", err)
	}
	if silent < timeout {
		t.Fatalf("connection dropped %v after the last byte, before read_timeout %v", silent, timeout)
	}
	if silent > timeout+10*time.Second {
		t.Fatalf("connection dropped only %v after the last byte (read_timeout %v)", silent, timeout)
	}
	for s.Stats().Open != 0 {
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); st.ReadFailures != 1 || st.Messages != 0 || len(rec.bodies()) != 0 {
		t.Errorf("stats = %+v, consumer got %d", st, len(rec.bodies()))
	}
}

// TestSourceIdleTimeoutIgnoresJunk: between frames the idle timeout is a
// plain deadline; bytes that start no frame do not keep a connection open.
func TestSourceIdleTimeoutIgnoresJunk(t *testing.T) {
	const idle = 300 * time.Millisecond
	s := start(t, Config{IdleTimeout: idle}, &recorder{})
	c := dial(t, s)
	began := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(idle / 6):
				if _, err := c.Write([]byte("\r\n")); err != nil {
					return
				}
			}
		}
	}()
	if _, err := c.r.ReadFrame(); err == nil {
		t.Fatal("want the connection closed by the idle timeout")
	}
	if took := time.Since(began); took > idle+10*time.Second {
		t.Fatalf("idle connection closed only after %v (idle_timeout %v)", took, idle)
	}
}
