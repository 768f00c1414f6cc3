package mllp

import (
	"bytes"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
)

// TestSourceAckTextInMessageCharset: the ACK to a message labelled 8859/1
// (MSH-18) declares 8859/1 and carries its error text in it, as the
// sender will read it; UTF-8 bytes there would be two wrong letters.
func TestSourceAckTextInMessageCharset(t *testing.T) {
	rec := &recorder{answer: func(adapters.Raw) error {
		return queue.Permanent(&hl7v2.AckError{Code: hl7v2.CodeAE, ErrCode: hl7v2.ErrTableValue, Segment: "PID", Field: 8, Text: "sexe «X» inconnu, données gardées"})
	}}
	s := start(t, Config{}, rec)
	c := dial(t, s)
	m := bytes.Replace(msg("L1"), []byte("|P|2.5.1\r"), []byte("|P|2.5.1||||||8859/1\r"), 1)
	if err := WriteFrame(c, m); err != nil {
		t.Fatal(err)
	}
	f, err := c.r.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(f, []byte("||8859/1\rMSA|AE|L1\r")) || !bytes.Contains(f, []byte("|sexe \xabX\xbb inconnu, donn\xe9es gard\xe9es\r")) {
		t.Fatalf("ACK %q", f)
	}
}
