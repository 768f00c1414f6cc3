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
)

// TestAckErrorLocatesRepeatedSegment: the ACK of a message refused for a
// field of a repeated segment (the third OBX of a result) names that
// occurrence in ERR-2 (ERL.2, segment sequence: OBX^3^3), not the first
// OBX, which is fine; a sender fixing the message looks where ERR-2 says.
func TestAckErrorLocatesRepeatedSegment(t *testing.T) {
	p, _, _ := newTestPipeline(t)
	p.converters = map[string]Converter{"hl7v2": HL7{Conv: &v2fhir.Converter{}}}
	body := []byte("MSH|^~\\&|LAB|FAC|FERRY|HIE|20260101120000||ORU^R01^ORU_R01|L1|P|2.5.1\r" +
		"PID|1||L1^^^HOSP^MR||DOE^JANE||19800101|F\r" +
		"OBR|1|O1|F1|24331-1^Lipid panel^LN|||20260101110000\r" +
		"OBX|1|NM|2093-3^Cholesterol^LN||190|mg/dL|||||F\r" +
		"OBX|2|NM|2571-8^Triglyceride^LN||120|mg/dL|||||F\r" +
		"OBX|3|NM|||55|mg/dL|||||F\r")
	err := p.Consume(context.Background(), adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: "conn 1 msg 1", Body: body, Received: time.Now()})
	var ae *hl7v2.AckError
	if !errors.As(err, &ae) || ae.Segment != "OBX" || ae.Field != 3 {
		t.Fatalf("got %v (%+v), want an error at OBX-3", err, ae)
	}
	a := hl7v2.BuildAck(body, err, "X", time.Now())
	if !bytes.Contains(a.Bytes, []byte("|OBX^3^3|")) {
		t.Errorf("ERR-2 should name the third OBX: %q", a.Bytes)
	}
}
