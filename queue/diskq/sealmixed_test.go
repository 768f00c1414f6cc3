package diskq_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestWrongKeyRunThenRightKey: a gateway started with the wrong key would
// take input and seal it with that key; once the right key is back, those
// items could not be opened, and no single key would deliver the queue.
// SealedKeys shows, before any input is taken, that the queue holds data
// of a key the configured one does not know (the gateway refuses to start
// on it). Should such a mixed queue exist anyway (a release without the
// check), the right key with the other one as a previous key
// (encryption.previous_key_files) delivers all of it.
func TestWrongKeyRunThenRightKey(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	right, wrong := newKey(t), newKey(t)

	q := openQ(t, dir, right)
	dead := putBody(t, q, "k3", markedBody("dead", 1<<20+100))
	it, ack, err := q.Get(ctx)
	if err != nil || it.ID != dead.ID {
		t.Fatalf("Get %v %v", it, err)
	}
	ack(ctx, queue.Permanent(errors.New("400")))
	putBody(t, q, "k1", markedBody("before", 300))
	putBody(t, q, "k1", markedBody("before-spilled", 1<<20+100))
	closeQueue(t, q)

	q = openQ(t, dir, wrong) // the operator's mistake
	use, err := q.SealedKeys()
	if err != nil {
		t.Fatal(err)
	}
	if u := use[right.ID()]; u.Items != 2 || u.DeadLetters != 1 || len(use) != 1 {
		t.Fatalf("SealedKeys %v, want 2 items and 1 dead letter under %s", use, right.ID())
	}
	if wrong.Knows(right.ID()) {
		t.Fatal("the wrong key knows the right one")
	}
	// What a release without the check did: take input with the wrong key.
	putBody(t, q, "k2", markedBody("during", 300))
	closeQueue(t, q)

	if snap, err := diskq.InspectSealedKeys(dir, ""); err != nil || snap[wrong.ID()].Items != 1 || snap[right.ID()].Items != 2 {
		t.Fatalf("InspectSealedKeys %v %v", snap, err)
	}

	q = openQ(t, dir, right.WithPrevious(wrong)) // the right key back, the wrong one as previous
	defer closeQueue(t, q)
	for range 3 {
		it, ack, err := q.Get(ctx)
		var km *seal.KeyMismatchError
		if errors.As(err, &km) {
			t.Fatalf("with the right key back, an item taken meanwhile cannot be opened: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, it)
		ack(ctx, nil)
	}
	body, _, err := q.OpenDeadLetterBody(dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	body.Close() // an open file cannot be removed on Windows (the test's folder)
}
