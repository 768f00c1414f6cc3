package diskq

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// TestRawGate: a queue that writes its log directly makes its commit
// path's disk calls raw, and a buffered one never does; a call slower
// than rawSlow turns raw calls off for a while, longer after each slow
// call in a row; calls that stay fast change nothing.
func TestRawGate(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	defer closeQ(t, q)
	if q.cur.dio != nil {
		if q.gate.off.Load() {
			t.Fatal("a queue writing directly has raw calls off")
		}
		if q.cur.dio.gate != &q.gate {
			t.Fatal("the newest segment's direct descriptor does not use the queue's gate")
		}
	} else if !q.gate.off.Load() {
		t.Fatal("a queue writing through the page cache would make raw calls")
	}
	for i := range 20 {
		if err := q.Put(context.Background(), &queue.Item{Body: directBody(i)}); err != nil {
			t.Fatal(err)
		}
	}

	var g rawGate
	if !g.raw() {
		t.Fatal("a new gate is closed")
	}
	g.took(rawSlow / 2)
	if !g.raw() {
		t.Fatal("a fast call closed the gate")
	}
	// Slow calls in a row turn raw calls off for 1 s, 2 s, 4 s ... up to
	// rawBackoffMax; a fast one starts again from 1 s.
	slow := func(want time.Duration) {
		t.Helper()
		g.until.Store(0)
		g.took(rawSlow + time.Millisecond)
		if g.raw() {
			t.Fatal("a call slower than rawSlow left raw calls on")
		}
		if wait := time.Until(time.Unix(0, g.until.Load())); wait < want-time.Second/2 || wait > want {
			t.Fatalf("raw calls off for %v, want %v", wait, want)
		}
	}
	slow(rawBackoffMin)
	slow(2 * rawBackoffMin)
	slow(4 * rawBackoffMin)
	for range 20 {
		g.took(rawSlow + time.Millisecond)
	}
	slow(rawBackoffMax)
	g.until.Store(time.Now().Add(-time.Nanosecond).UnixNano())
	if !g.raw() {
		t.Fatal("raw calls still off after the backoff")
	}
	g.took(rawSlow)
	slow(rawBackoffMin)
	g.until.Store(0)
	g.off.Store(true)
	if g.raw() {
		t.Fatal("an off gate allows raw calls")
	}
	var nilGate *rawGate
	if nilGate.raw() {
		t.Fatal("a nil gate (a probe's descriptor) allows raw calls")
	}
	nilGate.took(time.Hour)

	b := open(t, t.TempDir(), Options{BufferedWrites: true})
	defer closeQ(t, b)
	if b.gate.raw() {
		t.Fatal("BufferedWrites: the commit path would make raw calls")
	}
}

// TestWriteFailingDoesNotWaitForTheWriter: WriteFailing (the readiness
// probe's question) answers while the writer holds its lock, as it does
// through a write that hangs on a stalled disk.
func TestWriteFailingDoesNotWaitForTheWriter(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	q.wmu.Lock()
	defer q.wmu.Unlock()
	got := make(chan error, 1)
	go func() { got <- q.WriteFailing() }()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("WriteFailing = %v on a queue whose writes work", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteFailing waited for the writer's lock")
	}
}
