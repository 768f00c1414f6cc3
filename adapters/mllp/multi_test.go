package mllp

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue/diskq"
)

// field returns field n of the first segment named name, "" when absent.
func field(segs [][]string, name string, n int) string {
	for _, s := range segs {
		if s[0] == name && len(s) > n {
			return s[n]
		}
	}
	return ""
}

// TestSourceRefusesMultiMessageFrame: a frame holding a second message, or
// an HL7 batch, is answered by one AR that names the problem (ERR-3 100 at
// the segment that begins the second message or the batch) before any of
// it reaches the consumer; the connection stays usable, and the next frame
// of one message is taken as usual. The sender keeps the messages and
// sends them one per frame.
func TestSourceRefusesMultiMessageFrame(t *testing.T) {
	batch := func(ms ...[]byte) []byte {
		b := []byte("FHS|^~\\&|SEND|FAC\rBHS|^~\\&|SEND|FAC\r")
		for _, m := range ms {
			b = append(b, m...)
		}
		return append(b, "BTS|"+string(rune('0'+len(ms)))+"\rFTS|1\r"...)
	}
	for _, c := range []struct {
		name  string
		frame []byte
		loc   string // ERR-2
		text  string
	}{
		{"two messages", append(msg("M1"), msg("M2")...), "MSH^2", "this frame holds 2 messages"},
		{"three messages, LF", bytes.ReplaceAll(append(append(msg("M1"), msg("M2")...), msg("M3")...), []byte("\r"), []byte("\n")), "MSH^2", "this frame holds 3 messages"},
		{"batch", batch(msg("M1"), msg("M2")), "FHS^1", "HL7 batch (FHS) of 2 messages"},
		{"batch of one", batch(msg("M1")), "FHS^1", "HL7 batch (FHS) of 1 message;"},
		{"trailer only", append(msg("M1"), "BTS|1\r"...), "BTS^1", "HL7 batch (BTS) of 1 message;"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			s := start(t, Config{}, rec)
			cl := dial(t, s)
			segs := cl.roundTrip(t, c.frame)
			if code, id := msa(segs); code != "AR" || id != "M1" {
				t.Fatalf("MSA %s %s, want AR M1: %q", code, id, segs)
			}
			if got := field(segs, "ERR", 2); got != c.loc {
				t.Errorf("ERR-2 %q, want %q", got, c.loc)
			}
			if got := field(segs, "ERR", 3); got != "100^Segment sequence error^HL70357" {
				t.Errorf("ERR-3 %q", got)
			}
			if txt := errText(segs); !strings.Contains(txt, c.text) || !strings.Contains(txt, "one message per frame") {
				t.Errorf("ERR-8 %q", txt)
			}
			if n := len(rec.bodies()); n != 0 {
				t.Fatalf("the consumer got %d input(s) of a refused frame", n)
			}
			if code, id := msa(cl.roundTrip(t, msg("M9"))); code != "AA" || id != "M9" {
				t.Fatalf("next frame: MSA %s %s", code, id)
			}
			if st := s.Stats(); st.MultiMessage != 1 || st.Messages != 1 || st.Rejects != 1 || st.Accepted != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestSourceMultiMessageFrameEnhanced: in enhanced mode the refusal is CR,
// after the MLLP release 2 NAK (nothing stored), and it is sent even when
// MSH-15 asks for no accept acknowledgement, the connection then closed,
// because a sender that hears nothing would count its messages delivered.
func TestSourceMultiMessageFrameEnhanced(t *testing.T) {
	frame := append(enhanced("E1", "NE", "NE"), enhanced("E2", "NE", "NE")...)
	s := start(t, Config{CommitACK: true}, &recorder{})
	c := dial(t, s)
	if err := WriteFrame(c, frame); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := c.r.ReadFrame()
	if err != nil || !IsCommitNAK(f) {
		t.Fatalf("want the commit NAK, got %q %v", f, err)
	}
	if code, id := msa(c.ack(t)); code != "CR" || id != "E1" {
		t.Fatalf("MSA %s %s, want CR E1", code, id)
	}
	if f, err := c.r.ReadFrame(); err == nil {
		t.Fatalf("connection still open; read %q", f)
	}
}

// TestSourceMultiMessageFrameNothingStored: in front of the real pipeline,
// a frame whose first message converts and whose second does not is
// neither half queued nor quarantined: everything stays with the sender,
// which sends the two messages in two frames and gets an ACK for each.
func TestSourceMultiMessageFrameNothingStored(t *testing.T) {
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	quar, err := pipeline.OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(q, nil, quar, map[string]pipeline.Converter{"hl7v2": pipeline.HL7{Conv: &v2fhir.Converter{}}}, nil)
	logs := &syncBuffer{}
	s, err := New(adapters.Settings{ID: "mllp/test", Logger: slog.New(slog.NewTextHandler(logs, nil))}, Config{Listen: "127.0.0.1:0"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })

	good := msg("G1")
	bad := bytes.Replace(msg("B1"), []byte("PID|1||B1^^^HOSP^MR"), []byte("PID|1||"), 1) // no identifier: AE alone
	c := dial(t, s)
	segs := c.roundTrip(t, append(append([]byte{}, good...), bad...))
	if code, id := msa(segs); code != "AR" || id != "G1" || field(segs, "ERR", 2) != "MSH^2" {
		t.Fatalf("frame of two: %q", segs)
	}
	if q.Len() != 0 || p.Stats().Quarantined.Load() != 0 {
		t.Fatalf("refused frame left %d queued, %d quarantined", q.Len(), p.Stats().Quarantined.Load())
	}
	if out := logs.String(); !strings.Contains(out, "mllp frame refused") || !strings.Contains(out, "control_id=G1") || strings.Contains(out, "DOE") {
		t.Errorf("log:\n%s", out)
	}
	if code, id := msa(c.roundTrip(t, good)); code != "AA" || id != "G1" {
		t.Fatalf("G1 alone: %s %s", code, id)
	}
	if code, id := msa(c.roundTrip(t, bad)); code != "AE" || id != "B1" {
		t.Fatalf("B1 alone: %s %s", code, id)
	}
	if q.Len() == 0 || p.Stats().Quarantined.Load() != 1 {
		t.Fatalf("queued %d, quarantined %d", q.Len(), p.Stats().Quarantined.Load())
	}
}
