package diskq

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// getSet leases n items and returns them by ID; it fails when a Get
// returns one not in want.
func getSet(t *testing.T, q *Queue, want ...*queue.Item) map[string]queue.AckFunc {
	t.Helper()
	got := map[string]queue.AckFunc{}
	for range want {
		it, a := get(t, q)
		if !slices.ContainsFunc(want, func(w *queue.Item) bool { return w.ID == it.ID }) {
			t.Fatalf("Get %s (key %q, n %s): not one of the %d expected", it.ID, it.Key, it.Attrs["n"], len(want))
		}
		got[it.ID] = a
	}
	return got
}

// TestBehindWaitsWithoutJoining: items behind a key (queue.Behind) wait
// for what was stored before them under it, but not for each other, and
// the key's later items do not wait for them; in memory and after a
// restart (the record carries the key).
func TestBehindWaitsWithoutJoining(t *testing.T) {
	eachRestart(t, func(t *testing.T, restart bool) {
		dir := t.TempDir()
		q := open(t, dir, Options{})
		behindD := []string{queue.Behind("D")}
		d1, d2 := put(t, q, "D", 1), put(t, q, "D", 2)
		p1 := putAfter(t, q, "P", behindD, 3)
		q1 := putAfter(t, q, "Q", behindD, 4)
		r1 := putAfter(t, q, "", behindD, 5) // no key of its own
		d3 := put(t, q, "D", 6)
		p2 := put(t, q, "P", 7)
		if restart {
			closeQ(t, q)
			q = open(t, dir, Options{})
		}
		defer func() { closeQ(t, q) }()

		ackD1 := wantGet(t, q, d1, "D1")
		wantNothingReady(t, q, "P1, Q1 and R1 wait for D1 and D2; D3 for D1 and D2; P2 for P1")
		ack(t, ackD1, nil)
		ackD2 := wantGet(t, q, d2, "D2")
		wantNothingReady(t, q, "P1, Q1 and R1 wait for D2")
		ack(t, ackD2, errors.New("HTTP 503")) // released: still before them
		ackD2 = wantGet(t, q, d2, "D2 again")
		ack(t, ackD2, nil)

		// All four at once: D3 does not wait for the items behind D,
		// nor do they for each other.
		acks := getSet(t, q, p1, q1, r1, d3)
		wantNothingReady(t, q, "P2 waits for P1 (key P)")
		ack(t, acks[p1.ID], nil)
		delete(acks, p1.ID)
		ackP2 := wantGet(t, q, p2, "P2")
		for _, a := range acks {
			ack(t, a, nil)
		}
		ack(t, ackP2, nil)
		if err := q.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if q.Len() != 0 || len(q.keys) != 0 {
			t.Fatalf("%d items, %d keys left", q.Len(), len(q.keys))
		}
	})
}

// TestBehindItemKeepsItsKey: an item behind a key comes back from Get
// with that key among its After keys, so a dead letter and its retry
// keep it.
func TestBehindItemKeepsItsKey(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer func() { closeQ(t, q) }()
	d1 := put(t, q, "D", 1)
	p1 := putAfter(t, q, "P", []string{queue.Behind("D"), "M"}, 2)
	ackD1 := wantGet(t, q, d1, "D1")
	ack(t, ackD1, queue.Permanent(errors.New("HTTP 422"))) // a dead letter frees what waits behind it
	it, a := get(t, q)
	if it.ID != p1.ID || !slices.Equal(it.After, []string{queue.Behind("D"), "M"}) {
		t.Fatalf("Get %+v, want P1 behind D, after M", it)
	}
	ack(t, a, queue.Permanent(errors.New("HTTP 422")))
	if err := q.Retry(context.Background(), p1.ID); err != nil {
		t.Fatal(err)
	}
	it, a = get(t, q)
	if it.ID != p1.ID || !slices.Equal(it.After, []string{queue.Behind("D"), "M"}) {
		t.Fatalf("Get %+v, want the retried P1 behind D, after M", it)
	}
	ack(t, a, nil)
}

// TestBehindFreeKeyCostsNothing: an item stored behind a key that holds
// nothing is ready at once and keeps no After key in memory.
func TestBehindFreeKeyCostsNothing(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer func() { closeQ(t, q) }()
	p1 := putAfter(t, q, "P", []string{queue.Behind("D")}, 1)
	q.mu.Lock()
	var after []string
	for _, m := range q.items {
		after = m.after()
	}
	q.mu.Unlock()
	if len(after) != 0 {
		t.Fatalf("after keys in memory %q, want none", after)
	}
	ack(t, wantGet(t, q, p1, "P1"), nil)
}

// TestBehindPurgeWhileWaiting: an item purged while it waits behind a
// key leaves nothing behind: the key is gone once its items are.
func TestBehindPurgeWhileWaiting(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer func() { closeQ(t, q) }()
	d1 := put(t, q, "D", 1)
	p1 := putAfter(t, q, "P", []string{queue.Behind("D")}, 2)
	q1 := putAfter(t, q, "Q", []string{queue.Behind("D")}, 3)
	ackD1 := wantGet(t, q, d1, "D1")
	if err := q.Purge(context.Background(), p1.ID); err != nil {
		t.Fatal(err)
	}
	wantNothingReady(t, q, "Q1 waits for D1")
	ack(t, ackD1, nil)
	ack(t, wantGet(t, q, q1, "Q1"), nil)
	if err := q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || len(q.keys) != 0 {
		t.Fatalf("%d items, %d keys left", q.Len(), len(q.keys))
	}
}

// TestBehindFreedStaysFree: once nothing stored before it under the key
// holds an item back, a later settlement of that key (not yet synced)
// does not hold it again: it was freed once and nothing would free it a
// second time. Here the item waits for its own key's head when it is
// freed, and that head settles in the same commit as the next item of
// the key it waited behind.
func TestBehindFreedStaysFree(t *testing.T) {
	for range 20 {
		q := open(t, t.TempDir(), Options{})
		p1, d1 := put(t, q, "P", 1), put(t, q, "D", 2)
		m := putAfter(t, q, "P", []string{queue.Behind("D")}, 3)
		d2 := put(t, q, "D", 4)
		acks := getSet(t, q, p1, d1)
		ack(t, acks[d1.ID], nil)
		ackD2 := wantGet(t, q, d2, "D2 (m is freed, but waits for P1)")
		// Both settlements in one commit, P1's first.
		ack(t, acks[p1.ID], nil)
		ack(t, ackD2, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		it, a, err := q.Get(ctx)
		cancel()
		if err != nil {
			t.Fatalf("m not handed out: %v", err)
		}
		if it.ID != m.ID {
			t.Fatalf("Get %s, want m", it.ID)
		}
		ack(t, a, nil)
		closeQ(t, q)
	}
}

// TestBehindKeylessDeadLetterRetrySafe: a dead letter without a key of
// its own that only waited behind one (the FHIR pass-through's resources
// of no patient) can overtake nothing, as a dead letter without any key:
// nothing to count, so RetrySafe needs no force, and `ferry queue show`
// (InspectDeliveredAfter) says so.
func TestBehindKeylessDeadLetterRetrySafe(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q := open(t, dir, Options{})
	defer func() { closeQ(t, q) }()
	loose := putAfter(t, q, "", []string{queue.Behind("D")}, 1)
	ack(t, wantGet(t, q, loose, "the item behind D"), queue.Permanent(errors.New("HTTP 422")))
	ack(t, wantGet(t, q, put(t, q, "D", 2), "D1"), nil)
	if n, known, err := q.DeliveredAfter(loose.ID); n != 0 || !known || err != nil {
		t.Fatalf("DeliveredAfter: %d %v %v, want 0, known", n, known, err)
	}
	if n, known, err := InspectDeliveredAfter(dir, "", loose.ID, nil); n != 0 || !known || err != nil {
		t.Fatalf("InspectDeliveredAfter: %d %v %v, want 0, known", n, known, err)
	}
	closeQ(t, q)
	q = open(t, dir, Options{})
	if err := q.RetrySafe(ctx, loose.ID, false); err != nil {
		t.Fatalf("RetrySafe without force: %v", err)
	}
}
