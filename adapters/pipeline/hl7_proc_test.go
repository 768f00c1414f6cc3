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

const procMsg = "MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01^ADT_A01|Z1|P|2.5.1\rEVN|A01|20261125120000\rPID|1||Z1^^^HOSP^MR||DOE^JANE||19800101|F\r"

// withProc returns procMsg with control id id and processing id proc.
func withProc(id, proc string) []byte {
	return bytes.Replace([]byte(procMsg), []byte("|Z1|P|"), []byte("|"+id+"|"+proc+"|"), 1)
}

// A listener's processing ids (MSH-11) are checked the way an unsupported
// message type is: a message of another id is quarantined, nothing of it
// is queued, and the error is AR with ERR-3 202 at MSH-11. The same
// message from a source that accepts T, or from one the converter has no
// rule for (a folder), is converted; a replay with the configuration
// changed goes through.
func TestHL7ProcessingIDs(t *testing.T) {
	p, q, quar := newTestPipeline(t)
	hl7 := HL7{Conv: &v2fhir.Converter{}, ProcessingIDs: map[string]hl7v2.ProcessingIDs{
		"mllp/prod": hl7v2.Production,
		"mllp/test": hl7v2.Production | hl7v2.Training,
	}}
	p.converters = map[string]Converter{"hl7v2": hl7}
	ctx := context.Background()
	consume := func(src string, body []byte) error {
		return p.Consume(ctx, adapters.Raw{Source: src, Format: "hl7v2", Name: "conn 1 msg 1", Body: body, Received: time.Now()})
	}

	for _, proc := range []string{"T", "D", "X", "T^A"} {
		body := withProc("R"+proc[:1], proc)
		err := consume("mllp/prod", body)
		if !queue.IsPermanent(err) {
			t.Fatalf("%s: want a permanent (quarantined) error, got %v", proc, err)
		}
		var ae *hl7v2.AckError
		if !errors.As(err, &ae) || ae.Code != hl7v2.CodeAR || ae.ErrCode != hl7v2.ErrUnsupportedProc || ae.Segment != "MSH" || ae.Field != 11 {
			t.Fatalf("%s: %#v", proc, ae)
		}
		a := hl7v2.BuildAck(body, err, "X", time.Now())
		if a.Code != hl7v2.CodeAR || !bytes.Contains(a.Bytes, []byte("|MSH^1^11|202^Unsupported processing id^HL70357|E|")) {
			t.Errorf("%s: ACK %q", proc, a.Bytes)
		}
	}
	if q.Len() != 0 || p.Stats().Quarantined.Load() != 4 {
		t.Fatalf("queued %d, quarantined %d", q.Len(), p.Stats().Quarantined.Load())
	}
	ids, err := quar.List()
	if err != nil || len(ids) != 4 {
		t.Fatalf("quarantine %v %v", ids, err)
	}
	var e *QuarantineEntry
	for _, id := range ids {
		if x, err := quar.Get(id); err != nil {
			t.Fatal(err)
		} else if bytes.Contains(x.Raw, []byte("|RT|T|")) {
			e = x
		}
	}
	if e == nil || e.Source != "mllp/prod" {
		t.Fatalf("the training message is not in the quarantine: %+v", e)
	}

	// Accepted: P and an empty MSH-11 on the production listener, T on
	// the test one, anything from a source without a rule.
	for _, c := range []struct{ src, id, proc string }{
		{"mllp/prod", "A1", "P"}, {"mllp/prod", "A2", ""}, {"mllp/test", "A3", "T"}, {"folder/drop", "A4", "T"},
	} {
		if err := consume(c.src, withProc(c.id, c.proc)); err != nil {
			t.Errorf("%s %q: %v", c.src, c.proc, err)
		}
	}
	if q.Len() != 4 {
		t.Fatalf("queued %d", q.Len())
	}

	// Replaying the quarantined training message with the configuration
	// of the day: refused while its source takes only P, queued once it
	// takes T.
	replay := adapters.Raw{Source: e.Source, Format: e.Format, Name: e.Name, Body: e.Raw, Received: e.Received, Meta: e.Meta}
	if err := p.Consume(ctx, replay); !queue.IsPermanent(err) {
		t.Fatalf("replay under P: %v", err)
	}
	hl7.ProcessingIDs["mllp/prod"] |= hl7v2.Training
	if err := p.Consume(ctx, replay); err != nil {
		t.Fatalf("replay under P, T: %v", err)
	}
	if q.Len() != 5 {
		t.Fatalf("queued %d after replay", q.Len())
	}
}
