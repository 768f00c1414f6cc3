package mllp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// bigMsg is an HL7 message of about n bytes: an ORU whose OBX carries text,
// as a report with an embedded document does.
func bigMsg(id string, n int) []byte {
	m := msg(id)
	line := []byte("OBX|1|TX|||" + strings.Repeat("x", 1000) + "\r")
	for len(m) < n {
		m = append(m, line...)
	}
	return m
}

// TestReaderBudget: a frame larger than the read buffer draws on the
// budget; one that does not fit is skipped whole (the next frame reads
// cleanly) with its head kept for the AR; charges come back when the reader
// waits for its next frame or is released.
func TestReaderBudget(t *testing.T) {
	b := NewBudget(256 << 10)
	var in bytes.Buffer
	for _, m := range [][]byte{bigMsg("FITS", 100<<10), bigMsg("TOOBIG", 300<<10), msg("SMALL")} {
		in.Write(AppendFrame(nil, m))
	}
	r := NewReader(bufio.NewReaderSize(&in, 4096), 1<<20)
	r.SetBudget(b)

	f, err := r.ReadFrame()
	if err != nil || !bytes.HasPrefix(f, []byte("MSH|")) || !bytes.Contains(f, []byte("|FITS|")) {
		t.Fatalf("first frame: %v", err)
	}
	if used := b.Used(); used < int64(len(f)) || used > b.Limit() {
		t.Fatalf("budget used %d for a %d-byte frame", used, len(f))
	}

	if err := r.WaitFrame(); err != nil {
		t.Fatal(err)
	}
	if b.Used() != 0 {
		t.Fatalf("budget used %d while waiting for the next frame, want 0", b.Used())
	}
	_, err = r.ReadFrame()
	var busy *FrameBusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) {
		t.Fatalf("over budget: got %v, want *FrameBusyError", err)
	}
	if busy.Budget != 256<<10 || busy.Size != int64(len(bigMsg("TOOBIG", 300<<10))) || !bytes.Contains(busy.Head, []byte("|TOOBIG|")) {
		t.Fatalf("busy error: budget %d size %d head %.60q", busy.Budget, busy.Size, busy.Head)
	}
	if b.Used() != 0 {
		t.Fatalf("budget used %d after a refused frame, want 0", b.Used())
	}

	f, err = r.ReadFrame()
	if err != nil || !bytes.Contains(f, []byte("|SMALL|")) {
		t.Fatalf("frame after the refused one: %q, %v", f, err)
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	r.Release()
	if b.Used() != 0 {
		t.Fatalf("budget used %d after Release", b.Used())
	}
}

// TestSourceBufferBudget: while one connection is in the middle of a large
// message that holds the listener's whole budget, another's large message
// is answered AR (busy) and its connection closed, small messages still go
// through, and the first message completes with AA. Once it is done the
// refused message is accepted when sent again.
func TestSourceBufferBudget(t *testing.T) {
	rec := &recorder{}
	s := start(t, Config{MaxFrameBytes: 512 << 10, MaxBufferedBytes: 512 << 10}, rec)

	holder := dial(t, s)
	large := AppendFrame(nil, bigMsg("HOLDER", 400<<10))
	half := len(large) - 1000
	if _, err := holder.Write(large[:half]); err != nil {
		t.Fatal(err)
	}
	waitStats(t, s, func(st Stats) bool { return st.Buffered == 512<<10 }) // the holder's buffer is the whole budget

	other := dial(t, s)
	segs := other.roundTrip(t, bigMsg("REFUSED", 200<<10))
	if code, id := msa(segs); code != "AR" || id != "REFUSED" || !strings.Contains(segs[2][8], "busy") {
		t.Fatalf("message over the budget: %q", segs)
	}
	if _, err := other.r.ReadFrame(); err != io.EOF {
		t.Fatalf("connection should be closed after a busy refusal, got %v", err)
	}

	small := dial(t, s)
	if code, id := msa(small.roundTrip(t, msg("SMALL"))); code != "AA" || id != "SMALL" {
		t.Fatalf("small message while the budget is held: %s %s", code, id)
	}

	if _, err := holder.Write(large[half:]); err != nil {
		t.Fatal(err)
	}
	if code, id := msa(holder.ack(t)); code != "AA" || id != "HOLDER" {
		t.Fatalf("large message holding the budget: %s %s", code, id)
	}
	waitStats(t, s, func(st Stats) bool { return st.Buffered == 0 })

	again := dial(t, s)
	if code, id := msa(again.roundTrip(t, bigMsg("REFUSED", 200<<10))); code != "AA" || id != "REFUSED" {
		t.Fatalf("resent message: %s %s", code, id)
	}
	st := s.Stats()
	if st.Busy != 1 || st.Rejects != 1 || st.BufferLimit != 512<<10 {
		t.Errorf("stats: busy %d rejects %d limit %d", st.Busy, st.Rejects, st.BufferLimit)
	}
	for _, b := range rec.bodies() {
		if strings.Contains(b[:100], "|REFUSED|") && len(b) < 200<<10 {
			t.Errorf("a truncated copy of the refused message reached the consumer")
		}
	}
	if n := len(rec.bodies()); n != 3 {
		t.Errorf("consumer got %d messages, want 3 (small, holder, resent)", n)
	}
}

func TestConfigMaxBufferedBytes(t *testing.T) {
	if err := (Config{MaxFrameBytes: 1 << 20, MaxBufferedBytes: 1 << 19}).Validate(); err == nil || !strings.Contains(err.Error(), "max_buffered_bytes") {
		t.Errorf("budget below the frame limit: %v", err)
	}
	if err := (Config{MaxBufferedBytes: -1}).Validate(); err == nil {
		t.Error("negative budget accepted")
	}
	if c := (Config{MaxFrameBytes: 100 << 20}).withDefaults(); c.MaxBufferedBytes != 100<<20 {
		t.Errorf("default budget under a 100 MiB frame limit: %d", c.MaxBufferedBytes)
	}
	if c := (Config{}).withDefaults(); c.MaxBufferedBytes != DefaultMaxBufferedBytes {
		t.Errorf("default budget: %d", c.MaxBufferedBytes)
	}
}

// TestSourceLargeFramesHeldWithinBudget: while large messages wait for
// their ACK, the memory the listener holds for them stays within
// max_buffered_bytes, as documented. The listener handed the consumer a
// copy of each frame and kept the frame buffer too, until the next frame:
// twice the budget.
func TestSourceLargeFramesHeldWithinBudget(t *testing.T) {
	const budget = 16 << 20
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	s := start(t, Config{MaxFrameBytes: budget / 2, MaxBufferedBytes: budget}, adapters.ConsumerFunc(func(_ context.Context, in adapters.Raw) error {
		arrived <- struct{}{}
		<-release
		runtime.KeepAlive(in.Body) // a converter reads it to the end
		return nil
	}))
	frames := [][]byte{AppendFrame(nil, bigMsg("BIG1", 7<<20)), AppendFrame(nil, bigMsg("BIG2", 7<<20))}
	conns := []*client{dial(t, s), dial(t, s)}
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i, c := range conns {
		go c.Write(frames[i])
	}
	for range conns {
		<-arrived
	}
	runtime.GC()
	runtime.ReadMemStats(&during)
	runtime.KeepAlive(frames) // the sender's copies count in both
	close(release)
	for _, c := range conns {
		if code, _ := msa(c.ack(t)); code != "AA" {
			t.Fatalf("large message: %s", code)
		}
	}
	held := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	if held > budget+2<<20 {
		t.Errorf("two 7 MiB messages awaiting their ACK hold %d MiB of heap; max_buffered_bytes is %d MiB", held>>20, budget>>20)
	}
}
