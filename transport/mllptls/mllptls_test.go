package mllptls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// exchangeRecorder is the consumer behind a real MLLP-over-TLS listener
// standing in for the exchange: it keeps what arrives and answers with
// answer's error (nil: AA; queue.Permanent: AE; other: AR).
type exchangeRecorder struct {
	mu     sync.Mutex
	got    []string
	answer func(body string) error
}

func (r *exchangeRecorder) Consume(_ context.Context, in adapters.Raw) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.answer != nil {
		if err := r.answer(string(in.Body)); err != nil {
			return err
		}
	}
	r.got = append(r.got, string(in.Body))
	return nil
}

func (r *exchangeRecorder) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func testPKI(t *testing.T) (pki.Paths, *tls.Config) {
	t.Helper()
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return p, &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

// startExchange runs ferry's own MLLP listener with TLS requiring client
// certificates as the receiving exchange.
func startExchange(t *testing.T, srv *tls.Config, rec *exchangeRecorder, listen string) *mllp.Source {
	t.Helper()
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	s, err := mllp.New(adapters.Settings{ID: "mllp/exchange"}, mllp.Config{Listen: listen, TLS: srv}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func newSink(t *testing.T, p pki.Paths, addr string) *Sink {
	t.Helper()
	s, err := New(Config{URL: "mllps://" + addr, Timeout: 5 * time.Second,
		TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func adtMsg(ctrl string) string {
	return "MSH|^~\\&|EHR|CLINIC|HIE|HIE|20261125083000||ADT^A01^ADT_A01|" + ctrl + "|P|2.5.1\r" +
		"EVN|A01|20261125083000\rPID|1||MRN-1^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|O\r"
}

// item is a queue item as the HL7 v2 pipeline stores it: a bundle whose
// Binary holds the message (LF-ended here, as a file may have it).
func item(t *testing.T, id, msg string) *queue.Item {
	t.Helper()
	b := fhir.Bundle{ResourceType: "Bundle", Type: "transaction", Entry: []fhir.BundleEntry{
		{Resource: &fhir.Patient{ResourceType: "Patient"}, Request: &fhir.BundleRequest{Method: "PUT", URL: "Patient/1"}},
		{Resource: &fhir.Binary{ResourceType: "Binary", ContentType: V2ContentType, Data: []byte(strings.ReplaceAll(msg, "\r", "\n"))},
			Request: &fhir.BundleRequest{Method: "PUT", URL: "Binary/1"}},
	}}
	body, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return &queue.Item{ID: id, Body: body, Attrs: map[string]string{"format": "hl7v2"}}
}

// TestForwardsAndReusesConnection: messages arrive as sent (CR-ended), in
// order, over one kept connection with mutual TLS.
func TestForwardsAndReusesConnection(t *testing.T) {
	p, srv := testPKI(t)
	rec := &exchangeRecorder{}
	ex := startExchange(t, srv, rec, "")
	s := newSink(t, p, ex.Addr().String())
	for i := range 5 {
		if err := s.Send(context.Background(), item(t, fmt.Sprint("it", i), adtMsg(fmt.Sprint("C", i)))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	got := rec.bodies()
	if len(got) != 5 {
		t.Fatalf("exchange got %d messages, want 5", len(got))
	}
	for i, g := range got {
		if g != adtMsg(fmt.Sprint("C", i)) {
			t.Errorf("message %d arrived as %q", i, g)
		}
	}
	if d := s.dialCount(); d != 1 {
		t.Errorf("%d connections for 5 messages, want 1 kept open", d)
	}
}

// TestAckClassification: AE is permanent and carries the exchange's text
// (kept out of Summary); AR is retried; a later part of a message and a
// status change have nothing to forward; a fax cannot be forwarded.
func TestAckClassification(t *testing.T) {
	p, srv := testPKI(t)
	rec := &exchangeRecorder{answer: func(body string) error {
		switch {
		case strings.Contains(body, "|BAD|"):
			return queue.Permanent(&hl7v2.AckError{Code: hl7v2.CodeAE, ErrCode: hl7v2.ErrRequiredMissing, Segment: "PID", Field: 3, Text: "PID-3 Doe has no identifier"})
		case strings.Contains(body, "|BUSY|"):
			return errors.New("queue full")
		}
		return nil
	}}
	ex := startExchange(t, srv, rec, "")
	s := newSink(t, p, ex.Addr().String())

	err := s.Send(context.Background(), item(t, "bad", adtMsg("BAD")))
	var ae *AckError
	if !queue.IsPermanent(err) || !errors.As(err, &ae) || ae.Code != "AE" {
		t.Fatalf("AE: %v", err)
	}
	if !strings.Contains(err.Error(), "PID-3") || strings.Contains(transport.Summary(err), "Doe") {
		t.Errorf("AE error %q, summary %q", err, transport.Summary(err))
	}
	err = s.Send(context.Background(), item(t, "busy", adtMsg("BUSY")))
	if err == nil || queue.IsPermanent(err) || !errors.As(err, &ae) || ae.Code != "AR" {
		t.Fatalf("AR: %v", err)
	}
	// The listener closed the connection after AR (a message it did not
	// keep); the sink replaced it instead of writing into it.
	if err := s.Send(context.Background(), item(t, "ok", adtMsg("OK"))); err != nil {
		t.Fatal(err)
	}
	if d := s.dialCount(); d != 2 {
		t.Errorf("%d connections, want 2: one kept through AE, a new one after AR", d)
	}

	part := &queue.Item{ID: "part2", Body: []byte(`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W10="}}]}`),
		Attrs: map[string]string{"format": "hl7v2"}}
	if err := s.Send(context.Background(), part); !errors.Is(err, transport.ErrNothingToSend) {
		t.Errorf("a bundle of an HL7 v2 message without the message: %v, want ErrNothingToSend", err)
	}
	fax := &queue.Item{ID: "fax1", Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[]}`), Attrs: map[string]string{"format": "fax"}}
	if err := s.Send(context.Background(), fax); !queue.IsPermanent(err) || !strings.Contains(err.Error(), "fax") {
		t.Errorf("fax: %v, want permanent", err)
	}
	if got := len(rec.bodies()); got != 1 {
		t.Errorf("exchange kept %d messages, want 1", got)
	}
}

// fakeExchange is a TLS server that answers each frame with reply(frame),
// or closes the connection when reply returns nil.
func fakeExchange(t *testing.T, srv *tls.Config, reply func(frame []byte) []byte) string {
	return fakeExchangeConns(t, srv, func() func(frame []byte) []byte { return reply })
}

// fakeExchangeConns is fakeExchange with a reply function of each
// connection's own (newReply is called once a connection), for a receiver
// whose answers depend on what the connection carried before.
func fakeExchangeConns(t *testing.T, srv *tls.Config, newReply func() func(frame []byte) []byte) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reply := newReply()
			go func() {
				defer c.Close()
				rd := mllp.NewReader(bufio.NewReader(c), 1<<20)
				for {
					f, err := rd.ReadFrame()
					if err != nil {
						return
					}
					out := reply(f)
					if out == nil {
						return
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// replayingExchange is a receiver that answers, before each frame's own
// ACK (code(frame)), every earlier frame of the connection again with AA,
// as npm node-hl7-server 2.5.0 does on a kept connection (its issue #102).
func replayingExchange(t *testing.T, srv *tls.Config, code func(frame []byte) string) string {
	return fakeExchangeConns(t, srv, func() func([]byte) []byte {
		var earlier [][]byte
		return func(f []byte) []byte {
			var out []byte
			for _, e := range earlier {
				out = append(out, ackFor(e, "AA", "")...)
			}
			earlier = append(earlier, bytes.Clone(f))
			return append(out, ackFor(f, code(f), "")...)
		}
	})
}

func ackFor(frame []byte, code, ctrl string) []byte {
	m, _ := hl7v2.Parse(frame)
	if ctrl == "" {
		ctrl = m.ControlID()
	}
	return mllp.AppendFrame(nil, []byte("MSH|^~\\&|HIE|HIE|EHR|CLINIC|20261125083001||ACK^A01^ACK|A1|P|2.5.1\rMSA|"+code+"|"+ctrl+"\r"))
}

// TestMismatchAndLostAnswer: an ACK for another control id is an error and
// the connection is replaced; a connection closed where the ACK was due is
// an unknown outcome (retried after unknown_outcome_delay); MLLP release 2
// commit ACK/NAK are understood.
func TestMismatchAndLostAnswer(t *testing.T) {
	p, srv := testPKI(t)
	var mu sync.Mutex
	mode := "mismatch"
	addr := fakeExchange(t, srv, func(f []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		switch mode {
		case "mismatch":
			return ackFor(f, "AA", "SOMEONE-ELSE")
		case "close":
			return nil
		case "commit":
			return mllp.AppendFrame(nil, []byte{mllp.CommitACK})
		case "nak":
			return mllp.AppendFrame(nil, []byte{mllp.CommitNAK})
		}
		return ackFor(f, "CA", "")
	})
	s := newSink(t, p, addr)
	err := s.Send(context.Background(), item(t, "m", adtMsg("C1")))
	var ae *AckError
	if err == nil || queue.IsPermanent(err) || !errors.As(err, &ae) || !ae.Mismatch {
		t.Fatalf("mismatch: %v", err)
	}
	mu.Lock()
	mode = "close"
	mu.Unlock()
	err = s.Send(context.Background(), item(t, "c", adtMsg("C2")))
	if err == nil || queue.IsPermanent(err) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("closed before the ACK: %v, want an unexpected EOF (outcome unknown)", err)
	}
	for _, tc := range []struct {
		mode string
		ok   bool
	}{{"commit", true}, {"nak", false}, {"ca", true}} {
		mu.Lock()
		mode = tc.mode
		mu.Unlock()
		err := s.Send(context.Background(), item(t, tc.mode, adtMsg("C3")))
		if (err == nil) != tc.ok || queue.IsPermanent(err) {
			t.Errorf("%s: %v", tc.mode, err)
		}
	}
}

// TestStaleIdleConnection: an exchange that closed an idle connection, even
// a moment ago, does not cost the next message an unknown outcome; the
// sink dials anew.
func TestStaleIdleConnection(t *testing.T) {
	p, srv := testPKI(t)
	rec := &exchangeRecorder{}
	ex := startExchange(t, srv, rec, "")
	addr := ex.Addr().String()
	s := newSink(t, p, addr)
	if err := s.Send(context.Background(), item(t, "1", adtMsg("S1"))); err != nil {
		t.Fatal(err)
	}
	// Restart the exchange on the same port: the kept connection is dead.
	ex.Shutdown(context.Background())
	startExchange(t, srv, rec, addr)
	if err := s.Send(context.Background(), item(t, "2", adtMsg("S2"))); err != nil {
		t.Fatalf("after the exchange restarted: %v", err)
	}
	if d := s.dialCount(); d != 2 {
		t.Errorf("%d dials, want 2", d)
	}
}

// TestDownExchangeIsNotConnected: with nothing listening, Send asks the
// dispatcher to reconnect (with backoff) instead of failing the item.
func TestDownExchangeIsNotConnected(t *testing.T) {
	p, srv := testPKI(t)
	ex := startExchange(t, srv, &exchangeRecorder{}, "")
	s := newSink(t, p, ex.Addr().String())
	s.Close(context.Background()) // drop the kept connection
	ex.Shutdown(context.Background())
	if err := s.Connect(context.Background()); err == nil {
		t.Fatal("Connect to a down exchange succeeded")
	}
	err := s.Send(context.Background(), item(t, "1", adtMsg("D1")))
	if !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("send to a down exchange: %v, want ErrNotConnected", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for url, want := range map[string]string{
		"mllps://hie.example.org:6661": "",
		"mllps://hie.example.org":      "port",
		"https://hie.example.org:6661": "is not mllps",
		"mllps://u:p@hie:1":            "credentials",
		"mllps://hie:1/path":           "path",
	} {
		err := Config{URL: url}.Validate()
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", url, err, want)
		}
	}
}

// TestEnhancedModeAsksForAcceptAck: a message the clinic sent in enhanced
// mode asking for no accept acknowledgement on success (MSH-15 NE or ER)
// must still get one from the exchange, which is the only sign that the
// exchange committed it. Forwarded as it came, an exchange that follows
// table 0155 (ferry's own listener here) keeps quiet: the sink would time
// out and send the message again and again, a duplicate at the exchange
// each time.
func TestEnhancedModeAsksForAcceptAck(t *testing.T) {
	p, srv := testPKI(t)
	rec := &exchangeRecorder{}
	ex := startExchange(t, srv, rec, "")
	s := newSink(t, p, ex.Addr().String())
	for i, ack := range []string{"NE|AL", "ER|NE", "SU|", "|AL", "AL|AL"} {
		msg := strings.Replace(adtMsg(fmt.Sprint("E", i)), "|P|2.5.1\r", "|P|2.5.1|||"+ack+"\r", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := s.Send(ctx, item(t, fmt.Sprint("e", i), msg))
		cancel()
		if err != nil {
			t.Fatalf("MSH-15|16 %s: %v", ack, err)
		}
	}
	got := rec.bodies()
	if len(got) != 5 {
		t.Fatalf("exchange kept %d messages, want 5", len(got))
	}
	for i, body := range got {
		m, err := hl7v2.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if m.AcceptAckType() != "AL" || m.AppAckType() != "NE" || m.ControlID() != fmt.Sprint("E", i) {
			t.Errorf("forwarded MSH-15 %q MSH-16 %q (MSH-10 %s), want AL NE", m.AcceptAckType(), m.AppAckType(), m.ControlID())
		}
		if !strings.Contains(body, "PID|1||MRN-1^^^CLINIC^MR||Doe^Pat||19800101|F\rPV1|1|O\r") {
			t.Errorf("body changed beyond MSH: %q", body)
		}
	}
	// Original mode (MSH-15 and MSH-16 empty) goes byte for byte.
	if err := s.Send(context.Background(), item(t, "o", adtMsg("O1"))); err != nil {
		t.Fatal(err)
	}
	if got := rec.bodies(); got[len(got)-1] != adtMsg("O1") {
		t.Errorf("original mode: %q", got[len(got)-1])
	}
	// So does one whose MSH-15 and MSH-16 are HL7's explicit null: both
	// null is original mode too.
	null := strings.Replace(adtMsg("O2"), "|P|2.5.1\r", `|P|2.5.1|||""|""`+"\r", 1)
	if err := s.Send(context.Background(), item(t, "o2", null)); err != nil {
		t.Fatal(err)
	}
	if got := rec.bodies(); got[len(got)-1] != null {
		t.Errorf("original mode, MSH-15/16 null: %q", got[len(got)-1])
	}
}

// TestLargeMessageOverSlowLink: a message that takes longer than Timeout
// to cross the link, while the exchange keeps reading it, is delivered.
// Bounded by the total time, it failed on every attempt and held up the
// queue behind it; exchange.timeout bounds inactivity, as on the FHIR
// path and the MLLP listener.
func TestLargeMessageOverSlowLink(t *testing.T) {
	p, srv := testPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// A slow link: a TLS record (16 KiB) every 3 ms, about 5 MB/s.
		rd := mllp.NewReader(bufio.NewReaderSize(&slowReader{r: c, n: 16 << 10, every: 3 * time.Millisecond}, 16<<10), 64<<20)
		for {
			f, err := rd.ReadFrame()
			if err != nil {
				return
			}
			if _, err := c.Write(ackFor(f, "AA", "")); err != nil {
				return
			}
		}
	}()
	s, err := New(Config{URL: "mllps://" + ln.Addr().String(), Timeout: 500 * time.Millisecond,
		TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 8 MiB: more than the socket buffers hold, so much of it is
	// written only as the exchange reads, over more than Timeout.
	big := adtMsg("BIG") + "OBX|1|ED|PDF||^application^pdf^Base64^" + strings.Repeat("QUJD", 2<<20) + "\r"
	if err := s.Send(context.Background(), item(t, "big", big)); err != nil {
		t.Fatalf("large message over a slow but steady link: %v", err)
	}
}

// slowReader reads at most n bytes per call, waiting every between calls.
type slowReader struct {
	r     io.Reader
	n     int
	every time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.every)
	return s.r.Read(p[:min(len(p), s.n)])
}

// TestEmptyMSA2: a receiver that leaves MSA-2 empty (it is required, but
// some do) answers the one message in flight on the connection: before,
// its AA was a mismatch, and the message it had taken was sent to it
// again on every retry, a duplicate each time. ferry takes the answer,
// says once in a WARN that the receiver leaves MSA-2 empty, and sends the
// next message on a new connection (TestEmptyMSA2StaleAck says why). An
// AE without MSA-2 is still a dead letter.
func TestEmptyMSA2(t *testing.T) {
	p, srv := testPKI(t)
	var mu sync.Mutex
	code, got := "AA", 0
	addr := fakeExchange(t, srv, func(f []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		got++
		return mllp.AppendFrame(nil, []byte("MSH|^~\\&|HIE|HIE|EHR|CLINIC|20261125083001||ACK^A01^ACK|A1|P|2.5.1\rMSA|"+code+"\r"))
	})
	var logs bytes.Buffer
	s, err := New(Config{URL: "mllps://" + addr, Timeout: 5 * time.Second,
		TLS: configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Send(context.Background(), item(t, fmt.Sprint("e", i), adtMsg(fmt.Sprint("E", i)))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	mu.Lock()
	code = "AE"
	mu.Unlock()
	if err := s.Send(context.Background(), item(t, "e3", adtMsg("E3"))); !queue.IsPermanent(err) {
		t.Fatalf("AE without MSA-2: %v, want a dead letter", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got != 4 {
		t.Errorf("the receiver got %d messages, want 4 (none sent again)", got)
	}
	if n := strings.Count(logs.String(), "MSA-2 empty"); n != 1 {
		t.Errorf("%d WARNs about the empty MSA-2, want 1:\n%s", n, logs.String())
	}
	if s.dials != 4 {
		t.Errorf("%d connections, want 4 (one a message: an answer naming no message can be matched only on a connection that carried no other)", s.dials)
	}
}

// TestEmptyMSA2StaleAck: an answer with MSA-2 empty names no message, so
// it can be taken for this message's only where no other was written on
// the connection. A receiver that answers a kept connection's earlier
// messages again before the new one's (as some do, see exchange) sent,
// with MSA-2 empty, the first message's AA again when the second
// arrived, and that was taken for the second's: here a message the
// receiver refused with AE, then never sent again. The receiver leaves
// MSA-2 empty always, or only when it answers again.
func TestEmptyMSA2StaleAck(t *testing.T) {
	for _, valued := range []bool{false, true} {
		t.Run(fmt.Sprint("MSA-2 valued ", valued), func(t *testing.T) {
			p, srv := testPKI(t)
			ack := func(code, ctrl string) []byte {
				return mllp.AppendFrame(nil, []byte("MSH|^~\\&|HIE|HIE|EHR|CLINIC|20261125083001||ACK^A01^ACK|A1|P|2.5.1\rMSA|"+code+"|"+ctrl+"\r"))
			}
			var mu sync.Mutex
			got := map[string]int{} // control id -> times received
			addr := fakeExchangeConns(t, srv, func() func([]byte) []byte {
				n := 0 // messages this connection carried before
				return func(f []byte) []byte {
					m, _ := hl7v2.Parse(f)
					mu.Lock()
					got[m.ControlID()]++
					mu.Unlock()
					// The first message is accepted, the second
					// refused.
					ctrl := m.ControlID()
					code := map[string]string{"E0": "AA", "E1": "AE"}[ctrl]
					if !valued {
						ctrl = ""
					}
					out := ack(code, ctrl)
					if n > 0 {
						// The connection's earlier message answered
						// again first.
						out = append(ack("AA", ""), out...)
					}
					n++
					return out
				}
			})
			s := newSink(t, p, addr)
			if err := s.Send(context.Background(), item(t, "e0", adtMsg("E0"))); err != nil {
				t.Fatalf("first message: %v", err)
			}
			err := s.Send(context.Background(), item(t, "e1", adtMsg("E1")))
			if err == nil {
				t.Fatal("second message: taken as accepted on the AA that answered the first again")
			}
			if !queue.IsPermanent(err) {
				// A mismatch: retried on a new connection, where the
				// receiver's answer is the AE.
				err = s.Send(context.Background(), item(t, "e1", adtMsg("E1")))
			}
			var ae *AckError
			if !errors.As(err, &ae) || ae.Code != "AE" || !queue.IsPermanent(err) {
				t.Fatalf("second message, refused with AE: %v, want the AE (a dead letter)", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if got["E0"] != 1 {
				t.Errorf("the first message was received %d times, want 1", got["E0"])
			}
		})
	}
}
