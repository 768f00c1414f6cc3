package diskq

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// TestRawGate: a queue that writes its log directly makes its commit
// path's disk calls raw, and a buffered one never does; one call slower
// than rawSlow turns raw calls off for rawBackoff, after which they are
// made again; calls that stay fast change nothing.
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
	g.took(rawSlow + time.Millisecond)
	if g.raw() {
		t.Fatal("a call slower than rawSlow left raw calls on")
	}
	if wait := time.Until(time.Unix(0, g.until.Load())); wait < rawBackoff-time.Second || wait > rawBackoff {
		t.Fatalf("raw calls off for %v, want %v", wait, rawBackoff)
	}
	g.until.Store(time.Now().Add(-time.Nanosecond).UnixNano())
	if !g.raw() {
		t.Fatal("raw calls still off after the backoff")
	}
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
