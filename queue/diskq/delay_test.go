package diskq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

func readyLen(q *Queue) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ready)
}

// TestNotBeforeKeepsKeyBlocked: an item released with a NotBefore ahead
// is neither ready nor leased; its key's later items wait behind it,
// other keys are handed out, the attempt is counted, and a restart makes
// it ready at once (the time is not persisted).
func TestNotBeforeKeepsKeyBlocked(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	a1 := put(t, q, "a", 1)
	put(t, q, "a", 2)
	b1 := put(t, q, "b", 1)

	it, a := get(t, q)
	if it.ID != a1.ID {
		t.Fatalf("first Get %s, want a1", it.ID)
	}
	ack(t, a, queue.NotBefore(errors.New("HTTP 500"), time.Now().Add(time.Hour)))
	if q.Delayed() != 1 || q.Stats().Leased != 0 {
		t.Fatalf("delayed %d, leased %d; want 1, 0", q.Delayed(), q.Stats().Leased)
	}
	it, a = get(t, q)
	if it.ID != b1.ID {
		t.Fatalf("second Get %s, want b1 (key a is blocked)", it.ID)
	}
	ack(t, a, nil)
	if n := readyLen(q); n != 0 {
		t.Fatalf("%d items ready while a1 waits; a2 must not overtake it", n)
	}
	if p := q.Pending(0); len(p) != 2 || p[0].ID != a1.ID || p[0].Attempts != 1 {
		t.Fatalf("pending %+v", p)
	}
	closeQ(t, q)

	q = open(t, dir, Options{})
	defer closeQ(t, q)
	it, a = get(t, q)
	if it.ID != a1.ID || it.Attempts != 1 {
		t.Fatalf("after restart Get %s attempts %d, want a1 with 1", it.ID, it.Attempts)
	}
	ack(t, a, nil)
	if it, _ = get(t, q); it.Attrs["n"] != "2" || it.Key != "a" {
		t.Fatalf("then %+v, want a2", it)
	}
}

// TestNotBeforeRedeliversWhenDue: once due the item is handed out again,
// still before the rest of its key; an item purged while delayed frees
// its key.
func TestNotBeforeRedeliversWhenDue(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	a1 := put(t, q, "a", 1)
	a2 := put(t, q, "a", 2)
	a3 := put(t, q, "a", 3)
	ctx := context.Background()

	it, a := get(t, q)
	ack(t, a, queue.NotBefore(errors.New("timeout"), time.Now().Add(20*time.Millisecond)))
	it, a = get(t, q) // blocks until due
	if it.ID != a1.ID || it.Attempts != 1 {
		t.Fatalf("redelivered %s attempts %d, want a1 with 1", it.ID, it.Attempts)
	}
	ack(t, a, queue.NotBefore(errors.New("again"), time.Now().Add(time.Hour)))
	if err := q.Purge(ctx, a1.ID); err != nil {
		t.Fatal(err)
	}
	if q.Delayed() != 0 {
		t.Fatalf("purged item still counted as delayed")
	}
	if it, a = get(t, q); it.ID != a2.ID {
		t.Fatalf("after purge Get %s, want a2", it.ID)
	}
	// A NotBefore in the past is an ordinary release.
	ack(t, a, queue.NotBefore(errors.New("x"), time.Now().Add(-time.Second)))
	if it, a = get(t, q); it.ID != a2.ID || it.Attempts != 1 {
		t.Fatalf("Get %s attempts %d, want a2 with 1", it.ID, it.Attempts)
	}
	ack(t, a, nil)
	if it, _ = get(t, q); it.ID != a3.ID {
		t.Fatalf("Get %s, want a3", it.ID)
	}
}

// TestNotBeforePermanentStaysPermanent: wrapping a permanent error does
// not turn a rejection into a retry.
func TestNotBeforePermanentStaysPermanent(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	put(t, q, "a", 1)
	_, a := get(t, q)
	ack(t, a, queue.NotBefore(queue.Permanent(errors.New("422")), time.Now().Add(time.Hour)))
	if dls, _ := q.DeadLetters(); len(dls) != 1 || q.Len() != 0 {
		t.Fatalf("dead letters %d, len %d", len(dls), q.Len())
	}
}
