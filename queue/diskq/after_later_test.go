package diskq

import (
	"context"
	"errors"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestAfterCountsAsLaterDelivery: a merge (key B, after A) delivered
// after A1 was dead-lettered came after A1: retrying A1 now would bring
// the retired record back on top of the merge, so RetrySafe must refuse
// it as it does for a later item of key A itself.
func TestAfterCountsAsLaterDelivery(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer func() { closeQ(t, q) }()
	a1 := put(t, q, "A", 1)
	x := putAfter(t, q, "B", []string{"A"}, 9)
	ack(t, wantGet(t, q, a1, "A1"), queue.Permanent(errors.New("HTTP 422")))
	ack(t, wantGet(t, q, x, "X"), nil)
	if n, known, err := q.DeliveredAfter(a1.ID); n != 1 || !known || err != nil {
		t.Fatalf("DeliveredAfter(A1) = %d %v %v, want 1: the merge ordered after A was delivered", n, known, err)
	}
	var later *LaterDeliveredError
	if err := q.RetrySafe(context.Background(), a1.ID, false); !errors.As(err, &later) {
		t.Fatalf("RetrySafe(A1) after the merge was delivered: %v, want a LaterDeliveredError", err)
	}
}

// TestAfterDeadLetterCountsItsAfterKeys: a dead-lettered merge (key B,
// after A) is ordered under A too: the items of A delivered after it,
// and those waiting behind it, make its retry unsafe as those of B do.
func TestAfterDeadLetterCountsItsAfterKeys(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	x := putAfter(t, q, "B", []string{"A"}, 9)
	a3, a4 := put(t, q, "A", 3), put(t, q, "A", 4)
	ack(t, wantGet(t, q, x, "X"), queue.Permanent(errors.New("HTTP 422")))
	var later *LaterDeliveredError
	if err := q.RetrySafe(context.Background(), x.ID, false); !errors.As(err, &later) || later.Waiting != 2 {
		t.Fatalf("RetrySafe(X) with A3 and A4 waiting: %v, want a LaterDeliveredError with 2 waiting", err)
	}
	ack(t, wantGet(t, q, a3, "A3"), nil)
	if n, known, err := q.DeliveredAfter(x.ID); n != 1 || !known || err != nil {
		t.Fatalf("DeliveredAfter(X) = %d %v %v, want 1 (A3)", n, known, err)
	}
	closeQ(t, q)
	q = open(t, dir, Options{})
	defer func() { closeQ(t, q) }()
	ack(t, wantGet(t, q, a4, "A4"), nil)
	if n, known, err := q.DeliveredAfter(x.ID); n != 2 || !known || err != nil {
		t.Fatalf("after a restart, DeliveredAfter(X) = %d %v %v, want 2 (A3, A4)", n, known, err)
	}
}
