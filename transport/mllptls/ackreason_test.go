package mllptls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// ackWith is an acknowledgement of frame with MSA-1 code and the extra
// segments (CR-ended) after MSA.
func ackWith(frame []byte, version, code string, segs ...string) []byte {
	m, _ := hl7v2.Parse(frame)
	return mllp.AppendFrame(nil, []byte("MSH|^~\\&|HIE|HIE|EHR|CLINIC|20261125083001||ACK^A01^ACK|A1|P|"+version+"\r"+
		"MSA|"+code+"|"+m.ControlID()+"\r"+strings.Join(segs, "")))
}

// TestUnsupportedTypeIsDeadLettered: an AR whose ERR-3 (HL7 table 0357)
// says the exchange does not support the message's type, event,
// processing id or version (200-203) cannot succeed on a retry of the
// same bytes. Retried, it held the patient's later messages back for
// exchange.retry.max_age (72 hours by default) before the dead letter;
// an AR for a busy or down exchange (no such code, or 207) is still
// retried.
func TestUnsupportedTypeIsDeadLettered(t *testing.T) {
	p, srv := testPKI(t)
	addr := fakeExchange(t, srv, func(f []byte) []byte {
		switch {
		case strings.Contains(string(f), "|V25|"):
			return ackWith(f, "2.5.1", "AR", "ERR||MSH^1^9|201^Unsupported event code^HL70357|E\r")
		case strings.Contains(string(f), "|V23|"):
			return ackWith(f, "2.3", "AR", "ERR|MSH^1^9^200&Unsupported message type&HL70357\r")
		case strings.Contains(string(f), "|CR|"):
			return ackWith(f, "2.5.1", "CR", "ERR||MSH^1^11|202^Unsupported processing id^HL70357|E\r")
		case strings.Contains(string(f), "|BUSY|"):
			return ackWith(f, "2.5.1", "AR", "ERR|||207^Application internal error^HL70357|E\r")
		}
		return ackWith(f, "2.5.1", "AR")
	})
	s := newSink(t, p, addr)
	for _, ctrl := range []string{"V25", "V23", "CR"} {
		err := s.Send(context.Background(), item(t, ctrl, adtMsg(ctrl)))
		var ae *AckError
		if !queue.IsPermanent(err) || !errors.As(err, &ae) {
			t.Errorf("%s: %v, want a permanent AR (dead letter)", ctrl, err)
			continue
		}
		if !strings.Contains(transport.Summary(err), "not supported") {
			t.Errorf("%s: summary %q does not say the exchange does not support the message", ctrl, transport.Summary(err))
		}
	}
	for _, ctrl := range []string{"BUSY", "PLAIN"} {
		err := s.Send(context.Background(), item(t, ctrl, adtMsg(ctrl)))
		var ae *AckError
		if err == nil || queue.IsPermanent(err) || !errors.As(err, &ae) || ae.Code != "AR" {
			t.Errorf("%s: %v, want a retryable AR", ctrl, err)
		}
	}
}

// TestAEReasonNamesTheError: an exchange that says what is wrong only in
// ERR-2 (location) and ERR-3 (HL7 table 0357), without ERR-8 or MSA-3,
// as many engines do, must not leave a dead letter that says only "AE":
// its reason names the code and the field, and the dead letter keeps the
// whole acknowledgement (queue.Outcomer) for `ferry queue show`.
func TestAEReasonNamesTheError(t *testing.T) {
	p, srv := testPKI(t)
	addr := fakeExchange(t, srv, func(f []byte) []byte {
		if strings.Contains(string(f), "|OLD|") {
			return ackWith(f, "2.3", "AE", "ERR|PID^1^3^101&Required field missing&HL70357\r")
		}
		return ackWith(f, "2.5.1", "AE", "ERR||PID^1^3^1|101^Required field missing^HL70357|E\r")
	})
	s := newSink(t, p, addr)
	for _, ctrl := range []string{"NEW", "OLD"} {
		err := s.Send(context.Background(), item(t, ctrl, adtMsg(ctrl)))
		if !queue.IsPermanent(err) {
			t.Fatalf("%s: %v, want permanent", ctrl, err)
		}
		t.Logf("%s: %v", ctrl, err)
		for _, want := range []string{"101", "Required field missing", "PID-3"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: dead letter reason %q does not name %q", ctrl, err, want)
			}
		}
		body, _ := queue.OutcomeOf(err)
		if !strings.Contains(string(body), "MSA|AE|"+ctrl) || !strings.Contains(string(body), "ERR|") {
			t.Errorf("%s: the dead letter keeps %q, want the exchange's acknowledgement", ctrl, body)
		}
	}
}

// TestStaleAckBeforeOwnIsSkipped: a receiver that answers a kept
// connection's earlier messages again before the current one's ACK (npm
// node-hl7-server 2.5.0 re-reads them, its issue #102: the CI peer) has
// the current message. Taking the first stale ACK for the answer, the
// sink reported a mismatch and the dispatcher re-sent a message the
// exchange had: a duplicate there every time. The sink reads on to the
// ACK that names its message; an ACK naming a message never sent on the
// connection is still a mismatch.
func TestStaleAckBeforeOwnIsSkipped(t *testing.T) {
	p, srv := testPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := mllp.NewReader(bufio.NewReader(c), 1<<20)
				var earlier [][]byte
				for {
					f, err := rd.ReadFrame()
					if err != nil {
						return
					}
					m, _ := hl7v2.Parse(f)
					mu.Lock()
					got = append(got, m.ControlID())
					mu.Unlock()
					var out []byte
					for _, e := range earlier {
						out = append(out, ackFor(e, "AA", "")...)
					}
					if m.ControlID() == "STRANGER" {
						out = append(out, ackFor(f, "AA", "NEVER-SENT")...)
					}
					earlier = append(earlier, bytes.Clone(f))
					if _, err := c.Write(append(out, ackFor(f, "AA", "")...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	s := newSink(t, p, ln.Addr().String())
	for _, ctrl := range []string{"K1", "K2", "K3", "K4"} {
		if err := s.Send(context.Background(), item(t, ctrl, adtMsg(ctrl))); err != nil {
			t.Errorf("%s: %v", ctrl, err)
		}
	}
	mu.Lock()
	if strings.Join(got, " ") != "K1 K2 K3 K4" {
		t.Errorf("the exchange received %v, want each message once", got)
	}
	mu.Unlock()
	err = s.Send(context.Background(), item(t, "S", adtMsg("STRANGER")))
	var ae *AckError
	if !errors.As(err, &ae) || !ae.Mismatch {
		t.Errorf("an ACK for a message never sent on the connection: %v, want a mismatch", err)
	}
}
