package diskq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestMaxItems: Put beyond Options.MaxItems fails with queue.ErrFull (the
// error a full MaxBytes gives, so sources answer it the same way); leased
// items still count, settling some makes room again, and the items a
// restart recovers count too.
func TestMaxItems(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q := open(t, dir, Options{MaxItems: 5})
	for i := range 5 {
		put(t, q, "", i)
	}
	over := &queue.Item{Body: []byte("one too many")}
	if err := q.Put(ctx, over); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Put beyond MaxItems = %v, want ErrFull", err)
	}
	if q.Len() != 5 {
		t.Fatalf("Len = %d after a refused Put, want 5", q.Len())
	}

	// A leased item is still stored: no room yet.
	_, ack1 := get(t, q)
	_, ack2 := get(t, q)
	if err := q.Put(ctx, &queue.Item{Body: []byte("x")}); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Put with 5 stored (2 leased) = %v, want ErrFull", err)
	}
	// Delivered and dead-lettered items make room; a released one does not.
	ack(t, ack1, nil)
	ack(t, ack2, queue.Permanent(errors.New("exchange answered 422")))
	_, ack3 := get(t, q)
	ack(t, ack3, errors.New("exchange answered 503"))
	put(t, q, "", 5)
	put(t, q, "", 6)
	if err := q.Put(ctx, &queue.Item{Body: []byte("x")}); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Put after refilling = %v, want ErrFull", err)
	}
	closeQ(t, q)

	// What the log recovers is counted against the limit from the start.
	q = open(t, dir, Options{MaxItems: 5})
	if q.Len() != 5 {
		t.Fatalf("recovered Len = %d, want 5", q.Len())
	}
	if err := q.Put(ctx, &queue.Item{Body: []byte("x")}); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Put after reopening a full queue = %v, want ErrFull", err)
	}
	closeQ(t, q)

	// A smaller limit than what is stored keeps every stored item (they
	// are delivered as usual) and refuses new ones until below it.
	q = open(t, dir, Options{MaxItems: 3})
	defer closeQ(t, q)
	if q.Len() != 5 {
		t.Fatalf("Len under a lowered limit = %d, want 5", q.Len())
	}
	for range 2 {
		_, a := get(t, q)
		ack(t, a, nil)
	}
	if err := q.Put(ctx, &queue.Item{Body: []byte("x")}); !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Put at 3 of 3 = %v, want ErrFull", err)
	}
	_, a := get(t, q)
	ack(t, a, nil)
	put(t, q, "", 7)
}

// TestMaxItemsConcurrentPuts: Puts waiting for the same group commit are
// counted before they are written, so concurrent producers cannot
// overshoot the limit.
func TestMaxItemsConcurrentPuts(t *testing.T) {
	q := open(t, t.TempDir(), Options{MaxItems: 10})
	defer closeQ(t, q)
	var ok, full atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			err := q.Put(context.Background(), &queue.Item{Key: string(rune('a' + i%4)), Body: []byte("bundle")})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, queue.ErrFull):
				full.Add(1)
			default:
				t.Errorf("Put: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 || full.Load() != 30 || q.Len() != 10 {
		t.Fatalf("stored %d, refused %d, Len %d; want 10, 30, 10", ok.Load(), full.Load(), q.Len())
	}
}

// TestFullClearsOnceThereIsRoom: Stats.Full (the status page's "Queue
// full", /metrics' ferry_queue_full, "1 while the queue refuses new
// items") said the queue was full from a refused Put until a Put was
// admitted, so a queue that deliveries had emptied went on being shown
// full, and alerting, until some input came; it says so while the Put
// refused would still be refused.
func TestFullClearsOnceThereIsRoom(t *testing.T) {
	ctx := context.Background()
	t.Run("max_items", func(t *testing.T) {
		q := open(t, t.TempDir(), Options{MaxItems: 2})
		defer closeQ(t, q)
		put(t, q, "", 0)
		put(t, q, "", 1)
		if err := q.Put(ctx, &queue.Item{Body: []byte("x")}); !errors.Is(err, queue.ErrFull) {
			t.Fatalf("Put beyond MaxItems = %v", err)
		}
		if q.Stats().Full == "" {
			t.Fatal("not full after a refused Put")
		}
		_, a := get(t, q)
		ack(t, a, nil)
		if full := q.Stats().Full; full != "" {
			t.Errorf("a delivery made room, yet Full = %q", full)
		}
	})
	t.Run("max_bytes", func(t *testing.T) {
		q := open(t, t.TempDir(), Options{MaxBytes: 3500})
		defer closeQ(t, q)
		for range 2 {
			if err := q.Put(ctx, &queue.Item{Body: make([]byte, 1000)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Put(ctx, &queue.Item{Body: make([]byte, 2000)}); !errors.Is(err, queue.ErrFull) {
			t.Fatalf("Put beyond MaxBytes = %v", err)
		}
		if q.Stats().Full == "" {
			t.Fatal("not full after a refused Put")
		}
		_, a := get(t, q)
		ack(t, a, nil)
		if full := q.Stats().Full; full != "" {
			t.Errorf("a delivery made room for the item refused, yet Full = %q", full)
		}
	})
}
