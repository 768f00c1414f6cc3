package mllp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
)

// enhanced returns msg(id) with MSH-15 and MSH-16 set; a body containing
// BAD is quarantined by ackRecorder (CE), one containing LATER fails
// transiently (CR).
func enhanced(id, m15, m16 string) []byte {
	return []byte(strings.Replace(string(msg(id)), "|P|2.5.1\r", "|P|2.5.1|||"+m15+"|"+m16+"\r", 1))
}

func ackRecorder() *recorder {
	return &recorder{answer: func(in adapters.Raw) error {
		switch {
		case bytes.Contains(in.Body, []byte("BAD")):
			return queue.Permanent(&hl7v2.AckError{Code: hl7v2.CodeAE, ErrCode: hl7v2.ErrRequiredMissing, Segment: "PID", Field: 3, Text: "no identifier"})
		case bytes.Contains(in.Body, []byte("LATER")):
			return errors.New("queue put: disk full")
		}
		return nil
	}}
}

// TestSourceAcceptAckConditions: on one connection, messages whose MSH-15
// (table 0155) asks for no accept acknowledgement in their case get none,
// the others get theirs, in order, and an original-mode message after them
// gets its AA. Every message reached the consumer (stored or quarantined)
// and is counted.
func TestSourceAcceptAckConditions(t *testing.T) {
	rec := ackRecorder()
	s := start(t, Config{}, rec)
	c := dial(t, s)
	sent := []struct {
		body []byte
		ack  string // expected MSA-1, "" for none
	}{
		{enhanced("E1", "ER", "NE"), ""},      // accepted, ER: silent
		{enhanced("E2BAD", "ER", "NE"), "CE"}, // quarantined, ER: CE
		{enhanced("E3LATER", "ER", ""), "CR"}, // not stored, ER: CR
		{enhanced("N1", "NE", "NE"), ""},      // NE: never
		{enhanced("N2BAD", "NE", "NE"), ""},   // NE, even on error
		{enhanced("N3", "NE", "AL"), ""},      // asks for an application ACK
		{enhanced("S1BAD", "SU", "NE"), ""},   // SU, not accepted: silent
		{enhanced("S2", "SU", "NE"), "CA"},    // SU, accepted: CA
		{enhanced("A1", "XX", "NE"), "CA"},    // unrecognised: as AL
		{enhanced("A2", "", "AL"), "CA"},      // MSH-16 alone: accept ACK always
		{msg("O1"), "AA"},                     // original mode afterwards
	}
	// Everything is written at once: had a suppressed ACK been sent, it
	// would arrive in place of the next expected one.
	var all []byte
	var want [][2]string
	for _, m := range sent {
		all = AppendFrame(all, m.body)
		if m.ack != "" {
			_, after, _ := bytes.Cut(m.body, []byte("ADT_A01|"))
			id, _, _ := bytes.Cut(after, []byte("|"))
			want = append(want, [2]string{m.ack, string(id)})
		}
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if code, id := msa(c.ack(t)); code != w[0] || id != w[1] {
			t.Fatalf("ack %d: MSA %s %s, want %s %s", i+1, code, id, w[0], w[1])
		}
	}
	if got := rec.bodies(); len(got) != len(sent) {
		t.Fatalf("consumer got %d messages, want %d", len(got), len(sent))
	} else {
		for i, m := range sent {
			if got[i] != string(m.body) {
				t.Fatalf("message %d out of order or damaged", i+1)
			}
		}
	}
	// 7 accepted, 3 quarantined (CE), 1 not stored (CR); 5 ACKs not due;
	// N3 and A2 ask for an application ACK.
	st := s.Stats()
	if st.Messages != 11 || st.Accepted != 7 || st.Errors != 3 || st.Rejects != 1 || st.AcksNotSent != 5 || st.AppAcksRequested != 2 {
		t.Errorf("stats = %+v", st)
	}
}

// TestSourceAcceptAckConditionsWithCommitACK: the MLLP release 2 commit
// acknowledgement is transport level: it comes for a message whose MSH-15
// wants no accept acknowledgement too.
func TestSourceAcceptAckConditionsWithCommitACK(t *testing.T) {
	rec := ackRecorder()
	s := start(t, Config{CommitACK: true}, rec)
	c := dial(t, s)
	var all []byte
	all = AppendFrame(all, enhanced("R2N", "NE", "NE"))
	all = AppendFrame(all, msg("R2O"))
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"commit", "commit", "AA R2O"} {
		f, err := c.r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		got := "commit"
		if !IsCommitACK(f) {
			code, id := msa(splitAck(f))
			got = code + " " + id
		}
		if got != want {
			t.Fatalf("frame %q, want %s", got, want)
		}
	}
	if st := s.Stats(); st.Messages != 2 || st.AcksNotSent != 1 || len(rec.bodies()) != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func splitAck(f []byte) [][]string {
	var segs [][]string
	for _, s := range strings.Split(strings.TrimSuffix(string(f), "\r"), "\r") {
		segs = append(segs, strings.Split(s, "|"))
	}
	return segs
}

// TestSourceNotKeptIsNeverSilent: a message that could not be kept (a
// transient failure) gets its CR even when MSH-15 (NE, SU) asks for no
// accept acknowledgement, and the connection is closed after it, so that a
// sender that reads no ACKs notices too. Silence would lose the message.
func TestSourceNotKeptIsNeverSilent(t *testing.T) {
	for _, m15 := range []string{"NE", "SU"} {
		t.Run(m15, func(t *testing.T) {
			rec := ackRecorder()
			s := start(t, Config{}, rec)
			c := dial(t, s)
			var all []byte
			all = AppendFrame(all, enhanced("K1", m15, "NE"))      // stored: silent under NE, CA under SU
			all = AppendFrame(all, enhanced("K2LATER", m15, "NE")) // not kept: CR all the same
			if _, err := c.Write(all); err != nil {
				t.Fatal(err)
			}
			if m15 == "SU" {
				if code, id := msa(c.ack(t)); code != "CA" || id != "K1" {
					t.Fatalf("MSA %s %s, want CA K1", code, id)
				}
			}
			if code, id := msa(c.ack(t)); code != "CR" || id != "K2LATER" {
				t.Fatalf("MSA %s %s, want CR K2LATER", code, id)
			}
			if f, err := c.r.ReadFrame(); err == nil {
				t.Fatalf("connection still open after a message that was not kept; read %q", f)
			}
		})
	}
}

// TestSourceNullAckTypesAreOriginalMode: HL7's explicit null `""` in
// MSH-15 and MSH-16 (senders that fill every empty field so) leaves both
// null, and "if MSH-15 and MSH-16 are both null (or not present), the
// original acknowledgment mode rules are used" (HL7 v2 chapter 2): such a
// sender waits for AA/AE/AR, and a CA is no answer it knows. A null beside
// a valued field is still enhanced mode.
func TestSourceNullAckTypesAreOriginalMode(t *testing.T) {
	s := start(t, Config{}, ackRecorder())
	c := dial(t, s)
	for _, m := range []struct {
		body []byte
		want string
	}{
		{enhanced("Q1", `""`, `""`), "AA"},
		{enhanced("Q2BAD", `""`, `""`), "AE"},
		{enhanced("Q3", `""`, ""), "AA"},
		{enhanced("Q4", "AL", `""`), "CA"},
		{enhanced("Q5", `""`, "AL"), "CA"}, // MSH-15 null: accept ACK always
	} {
		segs := c.roundTrip(t, m.body)
		if code, _ := msa(segs); code != m.want {
			t.Errorf("%q: MSA-1 %s, want %s", m.body[:strings.IndexByte(string(m.body), '\r')], code, m.want)
		}
		if m.want[0] == 'A' && (len(segs[0]) > 14 && segs[0][14] != "" || len(segs[0]) > 15 && segs[0][15] != "") {
			t.Errorf("original-mode ACK with MSH-15/16: %q", segs[0])
		}
	}
	if st := s.Stats(); st.AppAcksRequested != 1 {
		t.Errorf("AppAcksRequested = %d, want 1 (Q5 only)", st.AppAcksRequested)
	}
}

// TestAckControlIDsUniqueAcrossListeners: a gateway's listeners (one per
// feed, or plain beside TLS) answer as the same application when their
// senders name ferry alike in MSH-5/6, and an ACK's MSH-10 must not repeat
// for it. Each listener counted up from the clock at its creation, so the
// first one's ids ran into the second's after as many ACKs as nanoseconds
// passed between the two.
func TestAckControlIDsUniqueAcrossListeners(t *testing.T) {
	a := start(t, Config{}, &recorder{})
	b := start(t, Config{}, &recorder{})
	first := b.ids.Next()
	for i := range 1 << 22 {
		if id := a.ids.Next(); id == first {
			t.Fatalf("listener A's ACK %d has control id %s, the one listener B already used", i+1, id)
		}
	}
}

// TestSourceAppAck: with Config.AppAck the listener stands in for the
// application. On one connection, each message gets the accept
// acknowledgement MSH-15 calls for and then the application
// acknowledgement MSH-16 calls for (table 0155 both), in order; an
// original-mode message still gets its single AA. A message not kept under
// NE/AL gets its AR and the connection stays open, since the sender heard
// of it; under NE/SU, no AR being due, the CR goes out and the connection
// closes, as without AppAck.
func TestSourceAppAck(t *testing.T) {
	rec := ackRecorder()
	s := start(t, Config{AppAck: true}, rec)
	c := dial(t, s)
	sent := []struct {
		body []byte
		acks []string // expected MSA-1 codes, in order
	}{
		{enhanced("P1", "NE", "AL"), []string{"AA"}},
		{enhanced("P2BAD", "NE", "AL"), []string{"AE"}},
		{enhanced("P3", "AL", "AL"), []string{"CA", "AA"}},
		{enhanced("P4", "AL", "NE"), []string{"CA"}},
		{enhanced("P5", "NE", "ER"), nil},
		{enhanced("P6BAD", "NE", "ER"), []string{"AE"}},
		{enhanced("P7", "ER", "SU"), []string{"AA"}},
		{enhanced("P8LATER", "NE", "AL"), []string{"AR"}},
		{msg("P9"), []string{"AA"}},
		{enhanced("P10LATER", "NE", "SU"), []string{"CR"}},
	}
	var all []byte
	for _, m := range sent {
		all = AppendFrame(all, m.body)
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	for _, m := range sent {
		_, after, _ := bytes.Cut(m.body, []byte("ADT_A01|"))
		id, _, _ := bytes.Cut(after, []byte("|"))
		for _, want := range m.acks {
			segs := c.ack(t)
			if code, got := msa(segs); code != want || got != string(id) {
				t.Fatalf("MSA %s %s, want %s %s", code, got, want, id)
			}
			// Each acknowledgement of an enhanced-mode message wants none
			// back (MSH-15 and MSH-16 NE; segs[0][n-1] is MSH-n).
			if string(id) != "P9" && (len(segs[0]) < 16 || segs[0][14] != "NE" || segs[0][15] != "NE") {
				t.Fatalf("%s: ack MSH %q, want MSH-15 and MSH-16 NE", id, segs[0])
			}
		}
	}
	if f, err := c.r.ReadFrame(); err == nil {
		t.Fatalf("connection still open after P10LATER (CR); read %q", f)
	}
	st := s.Stats()
	if st.Messages != 10 || st.AppAcksRequested != 8 || st.AppAcksSent != 6 {
		t.Errorf("stats = %+v", st)
	}
}

// TestSourceAppAckWarnsOncePerConnection: a listener without AppAck says
// in its log, once a connection, that a sender asks for application
// acknowledgements it does not send (the line that explains a stalled
// feed); with AppAck nothing is said.
func TestSourceAppAckWarnsOncePerConnection(t *testing.T) {
	for _, appAck := range []bool{false, true} {
		logs := &syncBuffer{}
		s, err := New(adapters.Settings{ID: "mllp/test", Logger: slog.New(slog.NewTextHandler(logs, nil))}, Config{Listen: "127.0.0.1:0", AppAck: appAck}, ackRecorder())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		for range 2 { // two connections
			c := dial(t, s)
			var all []byte
			all = AppendFrame(all, enhanced("W1", "AL", "AL"))
			all = AppendFrame(all, enhanced("W2", "AL", "AL"))
			if _, err := c.Write(all); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				c.ack(t) // CA
				if appAck {
					c.ack(t) // AA
				}
			}
			c.Close()
		}
		s.Shutdown(context.Background())
		got := strings.Count(logs.String(), "asks for application acknowledgements")
		if want := map[bool]int{false: 2, true: 0}[appAck]; got != want {
			t.Errorf("app_ack %v: %d warnings, want %d:\n%s", appAck, got, want, logs.String())
		}
	}
}
