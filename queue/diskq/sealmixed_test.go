package diskq_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ferry-health/ferry/queue/seal"
)

// TestWrongKeyRunThenRightKey: a gateway started with the wrong key
// (README: it "delivers nothing ... and keeps every item until the right
// key is back") still takes input meanwhile and seals it with the wrong
// key. Once the right key is back, those items cannot be opened: no single
// key delivers the whole queue.
//
// Known defect (review round 10), not fixed: a design choice (refuse to
// take input while the queue holds data sealed with another key, or read
// with previous keys too). Remove the Skip once one is made.
func TestWrongKeyRunThenRightKey(t *testing.T) {
	t.Skip("known: input taken during a wrong-key run is sealed with the wrong key; see the review report")
	dir := t.TempDir()
	ctx := context.Background()
	right, wrong := newKey(t), newKey(t)

	q := openQ(t, dir, right)
	putBody(t, q, "k1", markedBody("before", 300))
	closeQueue(t, q)

	q = openQ(t, dir, wrong) // the operator's mistake
	putBody(t, q, "k2", markedBody("during", 300))
	closeQueue(t, q)

	q = openQ(t, dir, right) // the right key is back
	defer closeQueue(t, q)
	for range 2 {
		_, ack, err := q.Get(ctx)
		var km *seal.KeyMismatchError
		if errors.As(err, &km) {
			t.Fatalf("with the right key back, an item taken meanwhile cannot be opened: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		ack(ctx, nil)
	}
}
