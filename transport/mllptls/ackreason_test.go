package mllptls

import (
	"context"
	"errors"
	"strings"
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
