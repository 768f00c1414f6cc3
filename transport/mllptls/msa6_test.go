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

// TestErrorConditionInMSA6: before v2.5 an acknowledging system could say
// why it refused a message in MSA-6 (Error Condition, HL7 table 0357)
// rather than in an ERR segment (v2.3 §2.24.2.6), and v2.3 and v2.4
// receivers still answer so. An AR whose MSA-6 is 200-203 (message type,
// event, processing id or version not supported) was read as "rejected
// for now" and retried, holding the patient's later messages back until
// exchange.retry.max_age, as an AR with that code in ERR-3 no longer
// does; and an AE's dead letter did not name the code. MSA-6 counts as
// an ERR's code does.
func TestErrorConditionInMSA6(t *testing.T) {
	p, srv := testPKI(t)
	addr := fakeExchange(t, srv, func(f []byte) []byte {
		m, _ := hl7v2.Parse(f)
		code := "AR|" + m.ControlID() + "|Unsupported message type|||200^Unsupported message type^HL70357"
		switch m.ControlID() {
		case "AE23":
			code = "AE|AE23||||101^Required field missing^HL70357"
		case "BUSY":
			code = "AR|BUSY|||||207^Application internal error^HL70357"
		}
		return mllp.AppendFrame(nil, []byte("MSH|^~\\&|HIE|HIE|EHR|CLINIC|20261125083001||ACK|A1|P|2.3\rMSA|"+code+"\r"))
	})
	s := newSink(t, p, addr)

	err := s.Send(context.Background(), item(t, "V23", adtMsg("V23")))
	var ae *AckError
	if !queue.IsPermanent(err) || !errors.As(err, &ae) || !ae.Unsupported {
		t.Errorf("AR with MSA-6 200: %v, want a permanent AR for an unsupported message (dead letter)", err)
	} else if sum := transport.Summary(err); !strings.Contains(sum, "not supported") || !strings.Contains(sum, "200") {
		t.Errorf("AR with MSA-6 200: summary %q does not name the code and say it is not supported", sum)
	}

	err = s.Send(context.Background(), item(t, "AE23", adtMsg("AE23")))
	if !queue.IsPermanent(err) || !strings.Contains(transport.Summary(err), "101") || !strings.Contains(err.Error(), "Required field missing") {
		t.Errorf("AE with MSA-6 101: %v (summary %q), want a dead letter naming 101 and its text", err, transport.Summary(err))
	}

	err = s.Send(context.Background(), item(t, "BUSY", adtMsg("BUSY")))
	if err == nil || queue.IsPermanent(err) {
		t.Errorf("AR with MSA-6 207: %v, want a retryable AR", err)
	}
}
