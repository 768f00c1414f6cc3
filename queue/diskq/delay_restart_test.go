package diskq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// TestNotBeforeSurvivesReopen: an item released with a durable not-before
// time (the dispatcher's wait after an attempt whose outcome is unknown,
// queue.NotBeforeDurable) still
// waits for it after the queue is closed and opened again, also when a
// rotation copied it forward out of the segment that held its NACK
// record, and holds its key meanwhile; other keys go on. The time was
// kept in memory only, and the item was ready at once after a restart.
func TestNotBeforeSurvivesReopen(t *testing.T) {
	for _, relocate := range []bool{false, true} {
		dir := t.TempDir()
		opts := Options{SegmentBytes: 4096}
		q := open(t, dir, opts)
		held := put(t, q, "K", 0)
		behind := put(t, q, "K", 1)
		_, a := get(t, q)
		ack(t, a, queue.NotBeforeDurable(errors.New("timeout awaiting the answer"), time.Now().Add(time.Hour)))
		if relocate {
			for i := range 100 {
				put(t, q, "", i+2)
				_, a := get(t, q)
				ack(t, a, nil)
			}
			if err := q.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := len(segFiles(t, dir)); n > 3 {
				t.Fatalf("%d segments left; the waiting item was not relocated", n)
			}
		}
		closeQ(t, q)

		q = open(t, dir, opts)
		if n := q.Delayed(); n != 1 {
			t.Errorf("relocated %v: %d item(s) waiting after reopen, want the one released until an hour from now", relocate, n)
		}
		other := put(t, q, "L", 9)
		got, a := get(t, q)
		if got.ID != other.ID {
			t.Errorf("relocated %v: got item %s first after reopen (held %s, behind it %s), want %s of another key", relocate, got.Attrs["n"], held.Attrs["n"], behind.Attrs["n"], other.Attrs["n"])
		}
		ack(t, a, nil)
		closeQ(t, q)
	}
}

// endDelays makes every delayed item due now.
func endDelays(q *Queue) {
	q.mu.Lock()
	for i := range q.later {
		q.later[i].due = time.Time{}
	}
	q.mu.Unlock()
	q.wakeDelayed()
}

// TestNotBeforeAfterClockSetBack: a durable wait read back after the
// clock was set back (a clinic PC started with a flat clock battery, its
// clock years behind until NTP puts it right) lasts no longer than the
// wait asked for: its due time, years ahead of that clock, would have
// held the item, and its patient's later data, for years (the timer
// counts the duration, so even a corrected clock would not end it).
func TestNotBeforeAfterClockSetBack(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	put(t, q, "K", 0)
	_, a := get(t, q)
	ack(t, a, queue.NotBefore(errors.New("timeout"), time.Now().Add(time.Hour)))
	// The NACK record as a release at a clock ten years ahead of this
	// one writes it: a wait of an hour.
	written := time.Now().AddDate(10, 0, 0)
	q.mu.Lock()
	var seq uint64
	for s := range q.items {
		seq = s
	}
	q.mu.Unlock()
	q.inflight.Add(1)
	q.reqs <- &writeReq{rec: encodeNack(seq, 1, written.Add(time.Hour).UnixNano(), written.UnixNano())}
	q.inflight.Done()
	closeQ(t, q)

	q = open(t, dir, Options{})
	defer closeQ(t, q)
	if q.Delayed() != 1 {
		t.Fatalf("%d item(s) waiting, want the one released for an hour", q.Delayed())
	}
	q.mu.Lock()
	due := q.later[0].due
	q.mu.Unlock()
	if left := time.Until(due); left > time.Hour {
		t.Errorf("the item waits %v more, want at most the hour asked for", left.Round(time.Hour))
	}
}
