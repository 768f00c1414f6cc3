package mllp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// corpusMessage reads a message of the shared sample corpus with its
// segments ended by CR, as a sender puts it in a frame.
func corpusMessage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("/work/shared/corpus/hl7v2/" + name)
	if err != nil {
		t.Skipf("sample corpus: %v", err)
	}
	b = bytes.ReplaceAll(bytes.TrimRight(b, "\r\n"), []byte("\r\n"), []byte("\r"))
	return append(bytes.ReplaceAll(b, []byte("\n"), []byte("\r")), '\r')
}

// TestLeadingEnvelopeAnswered: what the parser skips before a message's
// MSH (the byte-order marks of text joined from UTF-8 files that each
// began with one, a blank or a line end before one) is skipped by the ACK
// too. The message is stored and sent on: its ACK must say so, AA naming
// its MSH-10, not AE "message header (MSH) cannot be read" with MSA-2
// empty, which tells the sender to fix a message that went through.
func TestLeadingEnvelopeAnswered(t *testing.T) {
	s, p, _ := startPipeline(t, false, nil)
	body := corpusMessage(t, "ADT-A01-01.hl7") // MSH-10 MSG00001
	for i, lead := range []string{"\xef\xbb\xbf\xef\xbb\xbf", "\r\n\xef\xbb\xbf", " \xef\xbb\xbf"} {
		c := dial(t, s)
		segs := c.roundTrip(t, append([]byte(lead), body...))
		if code, id := msa(segs); code != "AA" || id != "MSG00001" {
			t.Errorf("lead %q: MSA %s %q, want AA MSG00001: %q", lead, code, id, segs)
		}
		if got := field(segs, "MSH", 8); got != "ACK^A01^ACK" {
			t.Errorf("lead %q: MSH-9 %q", lead, got)
		}
		if got := field(segs, "MSH", 4); got != "ADTApp" {
			t.Errorf("lead %q: MSH-5 %q, want the sender's MSH-3", lead, got)
		}
		if i == 0 && p.Stats().Queued.Load() == 0 {
			t.Fatal("message not queued")
		}
	}
}

// TestLeadingEnvelopeSequence: the sequence number protocol reads MSH-13
// past what the parser skips before the MSH, too. A link start behind two
// byte-order marks was taken for an ordinary message: answered AE
// (nothing but MSH) without MSA-4 and quarantined, and its sender could
// not start the link; a numbered message was stored without its number.
func TestLeadingEnvelopeSequence(t *testing.T) {
	rec := &recorder{}
	s := start(t, Config{Sequences: openSeq(t, filepath.Join(t.TempDir(), "seq"))}, rec)
	c := dial(t, s)
	const lead = "\xef\xbb\xbf\xef\xbb\xbf"
	if segs := c.roundTrip(t, append([]byte(lead), seqControl("L1", "0")...)); field(segs, "MSA", 1) != "AA" || msa4(segs) != "-1" {
		t.Fatalf("link start: %q", segs)
	}
	if segs := c.roundTrip(t, append([]byte(lead), seqMsg("M1", "1")...)); field(segs, "MSA", 1) != "AA" || msa4(segs) != "2" {
		t.Fatalf("message 1: %q", segs)
	}
	if n := len(rec.bodies()); n != 1 {
		t.Errorf("consumer got %d messages, want 1 (the link start is the protocol's)", n)
	}
	if got := s.Sequences(); got["LAB|767543|FERRY|HIE"] != 1 {
		t.Errorf("sequences %v", got)
	}
}
