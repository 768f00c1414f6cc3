package pipeline

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
)

// TestUnsupportedTypeOrEvent: a message ferry does not convert is answered
// AR at MSH-9 with the table 0357 code that says what is unsupported: 200
// when ferry converts no message of its type (MSH-9.1), 201 when it
// converts that type but not this trigger event (MSH-9.2), whatever the
// wording of the converter's reason.
func TestUnsupportedTypeOrEvent(t *testing.T) {
	p, q, _ := newTestPipeline(t)
	p.converters = map[string]Converter{"hl7v2": HL7{Conv: &v2fhir.Converter{}}}
	for i, c := range []struct{ typ, code string }{
		{"ADT^A17", hl7v2.ErrUnsupportedEvent}, // swap patients: ADT is converted, A17 is not
		{"ADT^A37", hl7v2.ErrUnsupportedEvent}, // refused with a reason
		{"ORU^R30", hl7v2.ErrUnsupportedEvent}, // ORU^R01 is converted
		{"QRY^A19", hl7v2.ErrUnsupportedType},  // no QRY at all
		{"ZZZ^Z01", hl7v2.ErrUnsupportedType},  // a local type
		{"ACK^A01", hl7v2.ErrUnsupportedType},  // an ACK sent to the listener
		{"ADT^", hl7v2.ErrUnsupportedEvent},    // ADT without a trigger event
	} {
		body := []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20260101120000||" + c.typ + "|U" + string(rune('0'+i)) + "|P|2.5.1\rPID|1||U1^^^HOSP^MR||DOE^JANE\r")
		err := p.Consume(context.Background(), adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: "conn 1 msg 1", Body: body, Received: time.Now()})
		if !queue.IsPermanent(err) {
			t.Fatalf("%s: want quarantined, got %v", c.typ, err)
		}
		var ae *hl7v2.AckError
		if !errors.As(err, &ae) || ae.Code != hl7v2.CodeAR || ae.ErrCode != c.code || ae.Segment != "MSH" || ae.Field != 9 {
			t.Errorf("%s: %+v, want AR %s at MSH-9", c.typ, ae, c.code)
			continue
		}
		a := hl7v2.BuildAck(body, err, "X", time.Now())
		if !bytes.Contains(a.Bytes, []byte("|MSH^1^9|"+c.code+"^")) {
			t.Errorf("%s: ACK %q", c.typ, a.Bytes)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("queued %d", q.Len())
	}
}
