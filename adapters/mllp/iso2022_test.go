package mllp

import (
	"bytes"
	"testing"

	"golang.org/x/text/encoding/japanese"

	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// TestISO2022HeaderAnswered: a Japanese sender writes its facility in
// kanji in ISO-2022-JP (MSH-18 ISO IR87, or ~ISO IR87 with MSH-20 "ISO
// 2022-1994" as SS-MIX2 senders do). A JIS X 0208 character's bytes may
// be '|': 奥 is ESC $ B 0x31 0x7C. Split by bytes, the header of 奥村病院
// lost a field: the message was read with MSH-10 "ADT^A01^ADT_A01" and
// the ACK named that in MSA-2, so the sender, which never sent that
// control id, kept sending the message again. The header is split as the
// text reads, and the ACK writes the facility back with its designations.
func TestISO2022HeaderAnswered(t *testing.T) {
	fac, err := japanese.ISO2022JP.NewEncoder().String("奥村病院")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(fac), []byte("|")) {
		t.Fatalf("% x holds no '|' byte", fac)
	}
	s, p, _ := startPipeline(t, false, nil)
	base := corpusMessage(t, "ADT-A01-01.hl7") // MSH-10 MSG00001
	for i, labels := range []string{"|USA|ISO IR87|en-US|||", "|USA|~ISO IR87|en-US|ISO 2022-1994||"} {
		body := bytes.Replace(base, []byte("|GHHSFacility^2.16.840.1.122848.1.30^ISO|"), []byte("|"+fac+"^2.16.840.1.122848.1.30^ISO|"), 1)
		body = bytes.Replace(body, []byte("|USA||en-US|||"), []byte(labels), 1)
		c := dial(t, s)
		if err := WriteFrame(c, body); err != nil {
			t.Fatal(err)
		}
		frame, err := c.r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		ack, err := hl7v2.Parse(frame)
		if err != nil {
			t.Fatalf("%s: ACK does not parse: %v: %q", labels, err, frame)
		}
		if ack.Get("MSA-1") != "AA" || ack.Get("MSA-2") != "MSG00001" || ack.Get("MSH-6-1") != "奥村病院" || ack.Get("MSH-9") != "ACK^A01^ACK" {
			t.Errorf("%s: ACK MSA %s %q, MSH-6 %q, MSH-9 %q: %q", labels, ack.Get("MSA-1"), ack.Get("MSA-2"), ack.Get("MSH-6-1"), ack.Get("MSH-9"), frame)
		}
		if q := p.Stats().Queued.Load(); q != int64(i+1) {
			t.Errorf("%s: %d queued, %d quarantined", labels, q, p.Stats().Quarantined.Load())
		}
	}
}
