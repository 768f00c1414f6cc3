package diskq

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestRetrySafeAcrossKeyRotation: with data at rest sealed, an item's key
// is its patient's pseudonym under the data-at-rest key, so after a
// rotation the same patient's items carry another key than a dead letter
// queued before it, and their deliveries were not counted against it:
// RetrySafe let the old dead letter go back without --force after newer
// data of its patient had reached the exchange, to be applied on top of
// it. Whether it was dead-lettered before the rotation or after, such a
// dead letter's later deliveries are now unknown, and need --force.
func TestRetrySafeAcrossKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	oldKey, _ := seal.NewKey(bytes.Repeat([]byte{1}, 32))
	newKey, _ := seal.NewKey(bytes.Repeat([]byte{2}, 32))
	rotated := newKey.WithPrevious(oldKey)
	before, after := oldKey.Pseudonym("patient-1"), newKey.Pseudonym("patient-1")

	q := open(t, dir, Options{Key: oldKey})
	early := put(t, q, before, 1) // dead-lettered before the rotation
	late := put(t, q, before, 2)  // queued before it, dead-lettered after
	_, a := get(t, q)
	ack(t, a, queue.Permanent(errors.New("422 A01 rejected")))
	closeQ(t, q)

	q = open(t, dir, Options{Key: rotated})
	defer closeQ(t, q)
	_, a = get(t, q)
	ack(t, a, queue.Permanent(errors.New("422 A08 rejected")))
	put(t, q, after, 3) // the patient's next message, delivered
	_, a = get(t, q)
	ack(t, a, nil)

	for _, dl := range []*queue.Item{early, late} {
		if n, known, err := q.DeliveredAfter(dl.ID); err != nil || known && n == 0 {
			t.Errorf("dead letter of item %s: %d later deliveries, known %v (%v); its patient's newer item was delivered", dl.Attrs["n"], n, known, err)
		}
	}
	var later *LaterDeliveredError
	if err := q.RetrySafe(ctx, early.ID, false); !errors.As(err, &later) || later.Known {
		t.Errorf("dead letter from before the rotation retried without --force: %v", err)
	}
	// A dead letter of the new key's is counted as before.
	fresh := put(t, q, after, 4)
	_, a = get(t, q)
	ack(t, a, queue.Permanent(errors.New("422")))
	if n, known, err := q.DeliveredAfter(fresh.ID); n != 0 || !known || err != nil {
		t.Errorf("dead letter queued after the rotation: %d %v %v", n, known, err)
	}
	if err := q.RetrySafe(ctx, fresh.ID, false); err != nil {
		t.Errorf("dead letter queued after the rotation, nothing delivered since: %v", err)
	}
}
