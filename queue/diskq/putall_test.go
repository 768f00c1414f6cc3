package diskq

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestPutAll: the items of one PutAll are admitted against the limits all
// or none, committed in order, and found again after a reopen.
func TestPutAll(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q, err := Open(dir, Options{MaxItems: 4})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(prefix string, n int) []*queue.Item {
		var items []*queue.Item
		for i := range n {
			items = append(items, &queue.Item{Key: "p1", Body: []byte(fmt.Sprintf(`{"part":"%s%d"}`, prefix, i))})
		}
		return items
	}
	if err := q.PutAll(ctx, batch("a", 3)); err != nil {
		t.Fatal(err)
	}
	if err := q.PutAll(ctx, batch("b", 2)); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("PutAll beyond max_items = %v, want ErrFull", err)
	}
	if q.Len() != 3 {
		t.Fatalf("Len = %d after a refused PutAll, want 3 (none of it admitted)", q.Len())
	}
	if err := q.PutAll(ctx, nil); err != nil {
		t.Fatalf("empty PutAll: %v", err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	q, err = Open(dir, Options{MaxItems: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)
	for i := range 3 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"part":"a%d"}`, i); string(it.Body) != want {
			t.Fatalf("item %d = %s, want %s (in PutAll order)", i, it.Body, want)
		}
		ack(ctx, nil)
	}
}
