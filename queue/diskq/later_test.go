package diskq

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestLaterDeliveriesCounted: the items of a dead letter's key delivered
// after it are counted (across a restart, readable without opening the
// queue); RetrySafe refuses while there are any, or while it is not
// known, unless forced; a dead letter without a key needs no force.
func TestLaterDeliveriesCounted(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q := open(t, dir, Options{})
	a1 := put(t, q, "p", 1)
	put(t, q, "p", 2)
	put(t, q, "other", 3)
	_, a := get(t, q)
	ack(t, a, queue.Permanent(errors.New("422 A01 rejected")))
	if n, known, err := q.DeliveredAfter(a1.ID); n != 0 || !known || err != nil {
		t.Fatalf("right after dead-lettering: %d %v %v", n, known, err)
	}
	for range 2 {
		_, a = get(t, q)
		ack(t, a, nil)
	}
	if n, known, _ := q.DeliveredAfter(a1.ID); n != 1 || !known {
		t.Fatalf("after the A08: %d %v, want 1 (the other key does not count)", n, known)
	}
	var later *LaterDeliveredError
	if err := q.RetrySafe(ctx, a1.ID, false); !errors.As(err, &later) || later.Delivered != 1 || !later.Known {
		t.Fatalf("RetrySafe without force: %v", err)
	}
	if q.Len() != 0 {
		t.Fatal("a refused retry queued the item")
	}
	closeQ(t, q)

	q = open(t, dir, Options{})
	put(t, q, "p", 4)
	_, a = get(t, q)
	ack(t, a, nil)
	if n, known, err := InspectDeliveredAfter(dir, "", a1.ID, nil); n != 2 || !known || err != nil {
		t.Fatalf("after a restart and one more: %d %v %v", n, known, err)
	}
	if err := q.RetrySafe(ctx, a1.ID, true); err != nil {
		t.Fatalf("forced retry: %v", err)
	}
	it, a := get(t, q)
	if it.ID != a1.ID {
		t.Fatalf("retried item not queued: %s", it.ID)
	}
	ack(t, a, nil)
	if m, _ := filepath.Glob(filepath.Join(dir, "dead", "*"+laterSuffix)); len(m) != 0 {
		t.Errorf("count files left after the retry: %v", m)
	}
	closeQ(t, q)

	// Unknown (a dead letter from before counting): force needed; no
	// key: nothing to overtake.
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	keyed := put(t, q, "k", 1)
	loose := put(t, q, "", 2)
	for range 2 {
		_, a = get(t, q)
		ack(t, a, queue.Permanent(errors.New("400")))
	}
	m, _ := filepath.Glob(filepath.Join(dir, "dead", "*-"+keyed.ID+laterSuffix))
	if len(m) != 1 {
		t.Fatalf("count file of %s: %v", keyed.ID, m)
	}
	os.Remove(m[0])
	if err := q.RetrySafe(ctx, keyed.ID, false); !errors.As(err, &later) || later.Known {
		t.Fatalf("untracked dead letter: %v", err)
	}
	if err := q.RetrySafe(ctx, loose.ID, false); err != nil {
		t.Fatalf("keyless dead letter: %v", err)
	}
}

// TestRetrySafeWithLaterItemsWaiting: a dead letter whose patient has
// newer items still waiting in the queue (the exchange was down, say)
// would, retried, be delivered after them, since a retry goes to the end
// of the queue: older data on top of newer, as when they were delivered
// already. RetrySafe refuses that without force too; forced, the order is
// the queue's (the newer items first).
func TestRetrySafeWithLaterItemsWaiting(t *testing.T) {
	ctx := context.Background()
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	a01 := put(t, q, "p", 1)
	_, a := get(t, q)
	ack(t, a, queue.Permanent(errors.New("422 A01 rejected")))
	a08 := put(t, q, "p", 2)
	put(t, q, "other", 3)
	var later *LaterDeliveredError
	err := q.RetrySafe(ctx, a01.ID, false)
	if !errors.As(err, &later) || later.Waiting != 1 || later.Delivered != 0 {
		t.Fatalf("RetrySafe with a newer item of the key waiting: %v", err)
	}
	if q.Len() != 2 {
		t.Fatalf("a refused retry changed the queue: %d items", q.Len())
	}
	if err := q.RetrySafe(ctx, a01.ID, true); err != nil {
		t.Fatalf("forced retry: %v", err)
	}
	var order []string
	for range 3 {
		it, a := get(t, q)
		if it.Key == "p" {
			order = append(order, it.ID)
		}
		ack(t, a, nil)
	}
	if len(order) != 2 || order[0] != a08.ID || order[1] != a01.ID {
		t.Fatalf("order of the key's items: %v", order)
	}
}
