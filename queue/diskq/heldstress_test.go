package diskq

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// TestHeldKeysUnderConcurrentSettling drives every path that settles an
// item (ack, dead letter, purge, release with and without NotBefore, a
// retry of a dead letter) from many goroutines over a few keys, some
// items with After keys, and checks that the queue drains: no key held
// for ever, no held count below zero, no keyState left behind.
func TestHeldKeysUnderConcurrentSettling(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{DeadLetterDir: dir + "/dead"})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	ctx := context.Background()
	keys := []string{"a", "b", "c", "d"}
	const n = 400
	var puts sync.WaitGroup
	for w := range 4 {
		puts.Add(1)
		go func() {
			defer puts.Done()
			for i := range n / 4 {
				it := &queue.Item{Key: keys[rand.IntN(len(keys))], Body: []byte(fmt.Sprintf(`{"n":%d}`, w*1000+i))}
				if i%5 == 0 {
					it.After = []string{keys[rand.IntN(len(keys))]}
				}
				if err := q.Put(ctx, it); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var settled atomic.Int64
	var retried sync.Map
	stop := make(chan struct{})
	var workers sync.WaitGroup
	for range 6 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for {
				gctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				it, ack, err := q.Get(gctx)
				cancel()
				if err != nil {
					select {
					case <-stop:
						return
					default:
						continue
					}
				}
				switch r := rand.IntN(10); {
				case r < 5:
					err = ack(ctx, nil)
					settled.Add(1)
				case r < 6:
					err = ack(ctx, queue.NotBefore(errors.New("busy"), time.Now().Add(time.Millisecond)))
				case r < 7:
					err = ack(ctx, errors.New("busy"))
				default:
					if _, again := retried.LoadOrStore(it.ID, true); again {
						err = ack(ctx, nil)
						settled.Add(1)
						break
					}
					if err = ack(ctx, queue.Permanent(errors.New("refused"))); err == nil {
						if rand.IntN(2) == 0 {
							err = q.Retry(ctx, it.ID)
						} else {
							err = q.Purge(ctx, it.ID)
							settled.Add(1)
						}
					}
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	puts.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for q.Len() > 0 && time.Now().Before(deadline) {
		// Purge some items waiting behind others, as an operator would.
		if p := q.Pending(50); len(p) > 3 && rand.IntN(4) == 0 {
			if err := q.Purge(ctx, p[len(p)-1].ID); err == nil {
				settled.Add(1)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	workers.Wait()
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	left := q.Pending(10)
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) != 0 {
		t.Errorf("%d items never delivered (a key held for ever?): %v", len(q.items), left)
	}
	for k, ks := range q.keys {
		t.Errorf("keyState %q left: %d items, held %d, busy %v", k, len(ks.items), ks.held, ks.busy)
	}
	if got := settled.Load(); got != n {
		t.Logf("settled %d of %d", got, n)
	}
}
