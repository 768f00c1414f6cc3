package diskq

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// putAfter puts an item of key that comes after the items of after.
func putAfter(t *testing.T, q *Queue, key string, after []string, n int) *queue.Item {
	t.Helper()
	it := &queue.Item{Key: key, After: after, Source: "mllp/main", Body: []byte(phi), Attrs: map[string]string{"n": string(rune('0' + n))}}
	if err := q.Put(context.Background(), it); err != nil {
		t.Fatalf("Put: %v", err)
	}
	return it
}

// eachRestart runs f as a subtest twice: "live", on the queue as the
// puts left it, and "reopened", where f closes and opens the queue after
// its puts (restart true), so that the order comes from the records.
func eachRestart(t *testing.T, f func(t *testing.T, restart bool)) {
	for _, restart := range []bool{false, true} {
		name := "live"
		if restart {
			name = "reopened"
		}
		t.Run(name, func(t *testing.T) { f(t, restart) })
	}
}

// wantNothingReady fails when an item is ready: what is leased must
// settle first.
func wantNothingReady(t *testing.T, q *Queue, why string) {
	t.Helper()
	if n := readyLen(q); n != 0 {
		t.Fatalf("%d items ready; %s", n, why)
	}
}

func wantGet(t *testing.T, q *Queue, want *queue.Item, what string) queue.AckFunc {
	t.Helper()
	it, a := get(t, q)
	if it.ID != want.ID {
		t.Fatalf("Get %s (key %s, n %s), want %s", it.ID, it.Key, it.Attrs["n"], what)
	}
	return a
}

// afterBacklog stores A1, A2 (key A), B1 (key B), then X (key B, after
// A), then A3 (key A, stored after X).
func afterBacklog(t *testing.T, q *Queue) (a1, a2, b1, x, a3 *queue.Item) {
	return put(t, q, "A", 1), put(t, q, "A", 2), put(t, q, "B", 1),
		putAfter(t, q, "B", []string{"A"}, 9), put(t, q, "A", 3)
}

// TestAfterWaitsForBothKeys: an item ordered under a second key (After)
// is handed out only once the earlier items of both keys are settled,
// and later items of either key wait for it, in memory and after a
// restart (the record carries the After keys).
func TestAfterWaitsForBothKeys(t *testing.T) {
	eachRestart(t, func(t *testing.T, restart bool) {
		dir := t.TempDir()
		q := open(t, dir, Options{})
		a1, a2, b1, x, a3 := afterBacklog(t, q)
		if restart {
			closeQ(t, q)
			q = open(t, dir, Options{})
		}
		defer func() { closeQ(t, q) }()

		ackA1 := wantGet(t, q, a1, "A1")
		ackB1 := wantGet(t, q, b1, "B1")
		wantNothingReady(t, q, "X must wait for A1, A2 and B1")
		ack(t, ackB1, nil)
		wantNothingReady(t, q, "X must wait for A1 and A2 (key A)")
		ack(t, ackA1, nil)
		ackA2 := wantGet(t, q, a2, "A2")
		wantNothingReady(t, q, "X must wait for A2")
		ack(t, ackA2, errors.New("HTTP 503")) // released: still before X
		ackA2 = wantGet(t, q, a2, "A2 again")
		wantNothingReady(t, q, "X must wait for A2")
		ack(t, ackA2, nil)

		it, ackX := get(t, q)
		if it.ID != x.ID || it.Key != "B" || !slices.Equal(it.After, []string{"A"}) {
			t.Fatalf("Get %+v, want X of key B after [A]", it)
		}
		wantNothingReady(t, q, "A3 was stored after X: it waits for X")
		b2 := put(t, q, "B", 2)
		wantNothingReady(t, q, "B2 waits for X")
		ack(t, ackX, nil)
		ack(t, wantGet(t, q, a3, "A3"), nil)
		ack(t, wantGet(t, q, b2, "B2"), nil)
		if err := q.Sync(context.Background()); err != nil { // the keys are held until then
			t.Fatal(err)
		}
		if q.Len() != 0 || len(q.keys) != 0 {
			t.Fatalf("%d items, %d keys left", q.Len(), len(q.keys))
		}
	})
}

// TestAfterDeadLetterReleasesBothKeys: dead-lettering the item frees both
// of its keys, and Retry puts it back with its After keys.
func TestAfterDeadLetterReleasesBothKeys(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	defer func() { closeQ(t, q) }()
	x := putAfter(t, q, "B", []string{"A"}, 9)
	a3, b2 := put(t, q, "A", 3), put(t, q, "B", 2)
	ackX := wantGet(t, q, x, "X")
	wantNothingReady(t, q, "A3 and B2 wait for X")
	ack(t, ackX, queue.Permanent(errors.New("HTTP 422")))
	ackA3 := wantGet(t, q, a3, "A3")
	ackB2 := wantGet(t, q, b2, "B2")

	// Retried while A3 is leased, X comes after it again.
	if err := q.Retry(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	wantNothingReady(t, q, "the retried X waits for A3 and B2")
	ack(t, ackA3, nil)
	wantNothingReady(t, q, "the retried X waits for B2")
	ack(t, ackB2, nil)
	it, a := get(t, q)
	if it.ID != x.ID || !slices.Equal(it.After, []string{"A"}) {
		t.Fatalf("Get %+v, want the retried X after [A]", it)
	}
	ack(t, a, nil)
}

// TestAfterDelayedHoldsBothKeys: an item released with a NotBefore keeps
// both keys busy until it is due; purging it frees them.
func TestAfterDelayedHoldsBothKeys(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	x := putAfter(t, q, "B", []string{"A"}, 9)
	a3, b2 := put(t, q, "A", 3), put(t, q, "B", 2)
	ack(t, wantGet(t, q, x, "X"), queue.NotBefore(errors.New("HTTP 500"), time.Now().Add(time.Hour)))
	wantNothingReady(t, q, "X is delayed: A3 and B2 wait")
	if err := q.Purge(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	ackA3 := wantGet(t, q, a3, "A3")
	ack(t, wantGet(t, q, b2, "B2"), nil)
	ack(t, ackA3, nil)
}

// TestAfterPurgeOfEarlierItem: purging a waiting item ahead of X under
// its second key lets X through once its first key is free too.
func TestAfterPurgeOfEarlierItem(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	a1, a2 := put(t, q, "A", 1), put(t, q, "A", 2)
	x := putAfter(t, q, "", []string{"A", "A", ""}, 9) // normalized to [A]
	ackA1 := wantGet(t, q, a1, "A1")
	if err := q.Purge(context.Background(), a2.ID); err != nil {
		t.Fatal(err)
	}
	wantNothingReady(t, q, "X waits for A1")
	ack(t, ackA1, nil)
	it, a := get(t, q)
	if it.ID != x.ID || !slices.Equal(it.After, []string{"A"}) {
		t.Fatalf("Get %+v, want X after [A]", it)
	}
	ack(t, a, nil)
}

// TestAfterRecordFormat: a PUT without After keys is written as before
// (type 1, readable by older versions); one with them sets recAfter, and
// both decode.
func TestAfterRecordFormat(t *testing.T) {
	old := &queue.Item{ID: "01J0000000000000000000000A", Key: "k", Source: "s", Attrs: map[string]string{"a": "b"}, Enqueued: time.Unix(5, 0)}
	rec := append(encodePutHead(old, "", 0, false, 0), "body"...)
	sealRecord(rec)
	if rec[8] != recPut {
		t.Fatalf("type %#x, want %d", rec[8], recPut)
	}
	withAfter := *old
	withAfter.After = []string{"r1", "r2"}
	rec2 := append(encodePutHead(&withAfter, "", 0, true, 0), "sealed"...)
	sealRecord(rec2)
	if rec2[8] != recPutSealed|recAfter {
		t.Fatalf("type %#x, want %#x", rec2[8], recPutSealed|recAfter)
	}
	for _, r := range [][]byte{rec, rec2} {
		if err := checkRecord(r); err != nil {
			t.Fatal(err)
		}
		h, err := decodePutHead(r)
		if err != nil {
			t.Fatal(err)
		}
		it, _, _, _, err := decodePut(r)
		if err != nil {
			t.Fatal(err)
		}
		if h.key != "k" || !slices.Equal(h.after, it.After) || it.Source != "s" || it.Attrs["a"] != "b" {
			t.Fatalf("head %+v, item %+v", h, it)
		}
	}
	if it, _, _, _, _ := decodePut(rec2); !slices.Equal(it.After, []string{"r1", "r2"}) || string(it.Body) != "sealed" {
		t.Fatalf("after %q body %q", it.After, it.Body)
	}
	ackRec := encodeAck(1)
	ackRec[8] |= recAfter
	sealRecord(ackRec)
	if err := checkRecord(ackRec); !errors.Is(err, errCorrupt) {
		t.Fatalf("an ACK with the after flag: %v, want corrupt", err)
	}
}
