package mllp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// seqMsg is msg with MSH-13 set to seq.
func seqMsg(id, seq string) []byte {
	return []byte("MSH|^~\\&|LAB|767543|FERRY|HIE|20261125120000||ADT^A08^ADT_A01|" + id + "|P|2.3|" + seq + "\rEVN|A08|20261125120000\rPID|1||" + id + "^^^HOSP^MR||DOE^JANE||19800101|F\r")
}

// seqControl is a link start (0) or resynchronisation (-1): a message
// with no content, as in the standard's example (v2.3 §2.25.3).
func seqControl(id, seq string) []byte {
	return []byte("MSH|^~\\&|LAB|767543|FERRY|HIE|199003141304-0500||^|" + id + "|P|2.3|" + seq + "\r")
}

// msa4 returns MSA-4, the expected sequence number ("" when absent).
func msa4(segs [][]string) string {
	return field(segs, "MSA", 4)
}

func openSeq(t *testing.T, path string) *SequenceStore {
	t.Helper()
	st, err := OpenSequenceStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestSequenceProtocol walks a sender through the HL7 sequence number
// protocol (v2.3 §2.23.1) against a listener in the default mode: the
// link start is answered with the number expected (-1 before any), each
// message moves it on once kept, a gap is stored and tracked, a repeat is
// handed on (the queue's duplicate check decides), -1 resynchronises,
// and what the listener expects survives a restart. A message without
// MSH-13 gets no MSA-4, and one with 0 and content is an ordinary message.
func TestSequenceProtocol(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mllp-sequence")
	rec := &recorder{}
	s := start(t, Config{Sequences: openSeq(t, path)}, rec)
	cl := dial(t, s)
	step := func(m []byte, code, expected string) {
		t.Helper()
		segs := cl.roundTrip(t, m)
		if c, _ := msa(segs); c != code || msa4(segs) != expected {
			t.Fatalf("MSA-1 %s MSA-4 %q, want %s %q: %q", c, msa4(segs), code, expected, segs)
		}
	}
	step(seqControl("S0", "0"), "AA", "-1")
	if n := len(rec.bodies()); n != 0 {
		t.Fatalf("a link start reached the consumer (%d inputs)", n)
	}
	step(seqMsg("M1", "1"), "AA", "2")
	step(seqMsg("M2", "2"), "AA", "3")
	step(seqControl("S1", "0"), "AA", "3") // the link restarted: go on from 3
	step(seqMsg("M5", "5"), "AA", "6")     // 3 and 4 never came: tracked, stored
	step(seqMsg("M5", "5"), "AA", "6")     // resent: handed on, number kept
	step(seqMsg("M4", "4"), "AA", "6")     // late: stored too, number kept
	step(seqControl("S2", "-1"), "AA", "-1")
	step(seqMsg("M100", "100"), "AA", "101")
	step(msg("PLAIN"), "AA", "")
	step(seqMsg("Z0", "0"), "AA", "101") // 0 with content: an ordinary message

	want := []string{"M1", "M2", "M5", "M5", "M4", "M100", "PLAIN", "Z0"}
	got := rec.bodies()
	if len(got) != len(want) {
		t.Fatalf("consumer got %d messages, want %d", len(got), len(want))
	}
	for i, w := range want {
		if !strings.Contains(got[i], "|"+w+"|") {
			t.Errorf("input %d is not %s: %q", i, w, got[i])
		}
	}
	st := s.Stats()
	if st.SequenceStarts != 2 || st.SequenceResyncs != 1 || st.SequenceGaps != 1 || st.SequenceRepeats != 2 || st.SequenceRefused != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.Messages != int64(len(want)) {
		t.Errorf("Messages %d, want %d (control messages are not handed on)", st.Messages, len(want))
	}

	// A restart: the store is read back, and the link start learns 101.
	cl.Close()
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.cfg.Sequences.Close()
	s2 := start(t, Config{Sequences: openSeq(t, path)}, rec)
	cl = dial(t, s2)
	step(seqControl("S3", "0"), "AA", "101")
	// Another stream (another sending facility) counts on its own.
	other := []byte(strings.Replace(string(seqControl("S4", "0")), "|767543|", "|999|", 1))
	step(other, "AA", "-1")
}

// TestSequenceEnforce: under sequence_numbers: enforce a gap is refused
// as the protocol says: AR naming MSH-13, MSA-4 the number expected,
// nothing stored, and the connection stays open for the sender to send
// that number.
func TestSequenceEnforce(t *testing.T) {
	rec := &recorder{}
	s := start(t, Config{Sequences: openSeq(t, filepath.Join(t.TempDir(), "seq")), SequenceMode: SequenceEnforce}, rec)
	cl := dial(t, s)
	if segs := cl.roundTrip(t, seqMsg("M7", "7")); msa4(segs) != "8" {
		t.Fatalf("first message starts the stream: %q", segs)
	}
	segs := cl.roundTrip(t, seqMsg("M9", "9"))
	if c, id := msa(segs); c != "AR" || id != "M9" || msa4(segs) != "8" {
		t.Fatalf("gap: %q", segs)
	}
	if got := field(segs, "ERR", 1); !strings.HasPrefix(got, "MSH^1^13^207") {
		t.Errorf("ERR-1 (v2.3) %q, want MSH-13 and 207", got)
	}
	if txt := field(segs, "MSA", 3); !strings.Contains(txt, "send 8 next") {
		t.Errorf("MSA-3 %q", txt)
	}
	if n := len(rec.bodies()); n != 1 {
		t.Fatalf("consumer got %d messages, want 1 (the refused one is not stored)", n)
	}
	// Same connection: the sender goes back to 8.
	if segs := cl.roundTrip(t, seqMsg("M8", "8")); msa4(segs) != "9" {
		t.Fatalf("after the gap: %q", segs)
	}
	if segs := cl.roundTrip(t, seqMsg("M9", "9")); msa4(segs) != "10" {
		t.Fatalf("then 9: %q", segs)
	}
	if st := s.Stats(); st.SequenceGaps != 1 || st.SequenceRefused != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestSequenceNotKept: a message the queue could not take (AR) leaves the
// stream's number where it was, so that its resend under the same number
// is the one expected.
func TestSequenceNotKept(t *testing.T) {
	var fail atomic.Bool
	rec := &recorder{answer: func(adapters.Raw) error {
		if fail.Load() {
			return errors.New("queue full")
		}
		return nil
	}}
	s := start(t, Config{Sequences: openSeq(t, filepath.Join(t.TempDir(), "seq"))}, rec)
	cl := dial(t, s)
	cl.roundTrip(t, seqMsg("M1", "1"))
	fail.Store(true)
	if segs := cl.roundTrip(t, seqMsg("M2", "2")); field(segs, "MSA", 1) != "AR" || msa4(segs) != "2" {
		t.Fatalf("not kept: %q", segs)
	}
	fail.Store(false)
	// The sender resends it under the same number.
	if segs := cl.roundTrip(t, seqMsg("M2", "2")); field(segs, "MSA", 1) != "AA" || msa4(segs) != "3" {
		t.Fatalf("resent: %q", segs)
	}
	if st := s.Stats(); st.SequenceGaps != 0 || st.SequenceRepeats != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSequenceStoreFile: the store's log survives a torn last line and a
// damaged one (both end the log, and are cut off), is rewritten with one
// line a stream once it has grown, and keeps -1 as "no number".
func TestSequenceStoreFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq")
	st, err := OpenSequenceStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(200) {
		if err := st.Set("a", i+1); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Set("b", 7); err != nil {
		t.Fatal(err)
	}
	if err := st.Set("c", 3); err != nil {
		t.Fatal(err)
	}
	if err := st.Set("c", -1); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = openSeq(t, path) // rewritten: 203 lines for 2 streams
	if got := st.Streams(); len(got) != 2 || got["a"] != 200 || got["b"] != 7 {
		t.Fatalf("streams %v", got)
	}
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Fatalf("log has %d lines after open, want 2: %q", n, b)
	}
	if err := st.Set("b", 8); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// A crash tore the next line: it is cut off, the rest is kept.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(seqLine("b", 9)[:10])
	f.Close()
	st = openSeq(t, path)
	if n, ok := st.Last("b"); !ok || n != 8 {
		t.Fatalf("after a torn line: b = %d, %v; want 8", n, ok)
	}
	if err := st.Set("b", 9); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openSeq(t, path)
	if n, _ := st.Last("b"); n != 9 {
		t.Fatalf("a line written after the cut is read: b = %d, want 9", n)
	}
	st.Close()

	// A damaged line (CRC) is passed over.
	b, _ = os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	last := len(lines) - 2 // the final element is empty
	lines[last] = strings.Replace(lines[last], " 9 ", " 6 ", 1)
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600)
	st = openSeq(t, path)
	if n, _ := st.Last("b"); n != 8 {
		t.Fatalf("after a damaged line: b = %d, want 8", n)
	}
	if _, ok := st.Last("c"); ok {
		t.Errorf("c was resynchronised (-1) and has no number")
	}
}

// TestSequenceNotesLimited: a sender that puts the same number in every
// message (it fills MSH-13 without speaking the protocol) is handled and
// counted message by message, but logged once a minute, not once a
// message.
func TestSequenceNotesLimited(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	h := slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)
	rec := &recorder{}
	s, err := New(adapters.Settings{ID: "mllp/test", Logger: slog.New(h)},
		Config{Listen: "127.0.0.1:0", Sequences: openSeq(t, filepath.Join(t.TempDir(), "seq"))}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	cl := dial(t, s)
	for i := range 20 {
		cl.roundTrip(t, seqMsg(fmt.Sprintf("C%d", i), "5"))
	}
	if st := s.Stats(); st.SequenceRepeats != 19 || st.Messages != 20 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "sequence number repeated"); n != 1 {
		t.Errorf("%d repeat lines, want 1:\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// halfWriter writes half of what it is given and fails, as a write into
// a disk that fills up mid-line does.
type halfWriter struct{ w io.Writer }

func (h halfWriter) Write(b []byte) (int, error) {
	n, _ := h.w.Write(b[:len(b)/2])
	return n, errors.New("no space left on device")
}

// TestSequenceStoreFailedWrite: a line a full disk cut short is cut off
// the log at once, so the lines written after it, when there is room
// again, are read back after a restart. It was left in place; the next
// line was glued to it, failed its CRC and ended the log there, so the
// later lines of every stream were forgotten.
func TestSequenceStoreFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq")
	st := openSeq(t, path)
	if err := st.Set("a", 1); err != nil {
		t.Fatal(err)
	}
	st.w = halfWriter{st.f}
	if err := st.Set("a", 2); err == nil {
		t.Fatal("a failed write reported no error")
	}
	st.w = st.f
	// The line right after the failed one, and the others after it.
	for _, set := range []struct {
		stream string
		n      int64
	}{{"b", 5}, {"a", 2}, {"a", 3}} {
		if err := st.Set(set.stream, set.n); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st = openSeq(t, path)
	defer st.Close()
	if got := st.Streams(); got["a"] != 3 || got["b"] != 5 {
		t.Fatalf("after a failed write: %v, want a 3 and b 5", got)
	}

	// A damaged line in the middle (a write whose cut failed too, ended by
	// the next line's newline) is passed over; the lines after it count,
	// and the next open rewrites the log without it.
	st.Close()
	b, _ := os.ReadFile(path)
	b = append(b, seqLine("a", 9)[:7]...)
	b = append(b, '\n')
	b = append(b, seqLine("b", 6)...)
	os.WriteFile(path, b, 0o600)
	st = openSeq(t, path)
	if got := st.Streams(); got["a"] != 3 || got["b"] != 6 {
		t.Fatalf("past a damaged line: %v, want a 3 and b 6", got)
	}
	if b, _ := os.ReadFile(path); strings.Count(string(b), "\n") != 2 {
		t.Errorf("log not rewritten without the damaged line: %q", b)
	}
}

// TestSequenceStreamsBounded: a stream is named by what the sender writes
// in MSH-3 to MSH-6, so a sender varying them must not grow the store
// (memory, log, status page) without end. Past maxSeqStreams streams, or
// for a stream name longer than maxSeqStreamLen, a numbered message is
// handled as an ordinary one: stored, answered AA without MSA-4, its
// number kept nowhere. A resynchronisation of a stream the store does not
// know writes nothing.
func TestSequenceStreamsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq")
	store := openSeq(t, path)
	rec := &recorder{}
	s := start(t, Config{Sequences: store}, rec)
	cl := dial(t, s)
	app := func(i int, m []byte) []byte {
		return []byte(strings.Replace(string(m), "|LAB|", fmt.Sprintf("|LAB%d|", i), 1))
	}
	for i := range maxSeqStreams + 5 {
		segs := cl.roundTrip(t, app(i, seqMsg(fmt.Sprintf("M%d", i), "1")))
		want := "2"
		if i >= maxSeqStreams {
			want = ""
		}
		if c, _ := msa(segs); c != "AA" || msa4(segs) != want {
			t.Fatalf("stream %d: MSA-1 %s MSA-4 %q, want AA %q", i, c, msa4(segs), want)
		}
	}
	long := []byte(strings.Replace(string(seqMsg("LONG", "1")), "|LAB|", "|"+strings.Repeat("L", 2*maxSeqStreamLen)+"|", 1))
	if segs := cl.roundTrip(t, long); field(segs, "MSA", 1) != "AA" || msa4(segs) != "" {
		t.Fatalf("long stream name: %q", segs)
	}
	// A known stream goes on as before.
	if segs := cl.roundTrip(t, app(0, seqMsg("N0", "2"))); msa4(segs) != "3" {
		t.Fatalf("known stream: %q", segs)
	}
	if n := len(store.Streams()); n != maxSeqStreams {
		t.Errorf("store keeps %d streams, want %d", n, maxSeqStreams)
	}
	if n := len(rec.bodies()); n != maxSeqStreams+7 {
		t.Errorf("consumer got %d messages, want %d: none is lost", n, maxSeqStreams+7)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		cl.roundTrip(t, app(10000+i, seqControl(fmt.Sprintf("R%d", i), "-1")))
	}
	if fi2, err := os.Stat(path); err != nil || fi2.Size() != fi.Size() {
		t.Errorf("resynchronising unknown streams wrote to the log: %d bytes, was %d (%v)", fi2.Size(), fi.Size(), err)
	}
}

// TestSequenceStoreRewrittenWhileOpen: a gateway runs for months between
// starts, so the log is rewritten with one line a stream while the store
// is open too, not only when it is opened; it grew by a line a message
// until the next start. What it holds after the rewrites is read back.
func TestSequenceStoreRewrittenWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq")
	st := openSeq(t, path)
	if err := st.Set("b", 7); err != nil {
		t.Fatal(err)
	}
	n := int64(3*seqRewriteSlack + 10)
	for i := range n {
		if err := st.Set("a", i+1); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines > seqRewriteSlack+4 {
		t.Fatalf("log has %d lines for 2 streams after %d numbers: not rewritten while open", lines, n+1)
	}
	if err := st.Set("b", 8); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openSeq(t, path)
	if got := st.Streams(); len(got) != 2 || got["a"] != n || got["b"] != 8 {
		t.Fatalf("after rewrites and a restart: %v, want a %d and b 8", got, n)
	}
}

// TestSequenceNumberTooLarge: MSH-13 is NM of at most 15 characters; a
// number near the top of int64 made the number expected (last+1) wrap to
// a negative MSA-4, every later message of the stream a "repeat", and
// under enforce, on a stream it started, every later message a refused
// gap. Such a number is not the protocol: the message is an ordinary one,
// and the stream goes on as before.
func TestSequenceNumberTooLarge(t *testing.T) {
	const big = "9223372036854775807"
	for _, mode := range []string{SequenceTrack, SequenceEnforce} {
		t.Run(mode, func(t *testing.T) {
			rec := &recorder{}
			s := start(t, Config{Sequences: openSeq(t, filepath.Join(t.TempDir(), "seq")), SequenceMode: mode}, rec)
			cl := dial(t, s)
			if mode == SequenceTrack {
				if segs := cl.roundTrip(t, seqMsg("M1", "1")); msa4(segs) != "2" {
					t.Fatalf("first: %q", segs)
				}
			}
			if segs := cl.roundTrip(t, seqMsg("BIG", big)); field(segs, "MSA", 1) != "AA" || msa4(segs) != "" {
				t.Fatalf("too large a number: %q", segs)
			}
			if segs := cl.roundTrip(t, seqMsg("M2", "2")); field(segs, "MSA", 1) != "AA" || msa4(segs) != "3" {
				t.Fatalf("after it: %q", segs)
			}
			if st := s.Stats(); st.SequenceRepeats != 0 || st.SequenceGaps != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
