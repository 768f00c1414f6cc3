package diskq

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestPurgeRacesGet: an operator's purge (through the gateway's ops API)
// runs while the dispatcher leases items. An item must end up either
// purged or delivered, never both: a purge that removes an item a Get
// has just leased makes the dispatcher deliver a purged item and then
// settle it a second time, which counts its segment's live items down
// twice (the segment may then be deleted under other unsettled items)
// and, its key gone, dereferences a nil key state.
//
// A backlog of one key, whose first item is leased, makes Purge's search
// long enough that the Get waiting for the lock gets it handed over the
// moment Purge lets go between its check and its settle.
func TestPurgeRacesGet(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	ctx := context.Background()
	batch := make([]*queue.Item, 1000)
	for range 60 {
		for i := range batch {
			batch[i] = &queue.Item{Key: "backlog", Body: []byte("x")}
		}
		if err := q.PutAll(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	_, held := get(t, q) // the backlog's key stays busy
	defer held(ctx, errors.New("test over"))
	both, purged, first := 0, 0, 0
	for i := range 200 {
		it := put(t, q, fmt.Sprintf("K%d", i), i)
		var wg sync.WaitGroup
		var purgeErr error
		var purgeDone atomic.Bool
		wg.Add(1)
		go func() {
			defer wg.Done()
			purgeErr = q.Purge(ctx, it.ID)
			purgeDone.Store(true)
		}()
		// Get asks for the lock while Purge holds it for its search.
		for !purgeDone.Load() && q.mu.TryLock() {
			q.mu.Unlock()
			runtime.Gosched()
		}
		gctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, a, err := q.Get(gctx)
			if err != nil {
				return
			}
			wg.Wait()
			if purgeErr == nil {
				both++
				return // settling it again would corrupt the counts or panic
			}
			if err := a(ctx, nil); err != nil {
				t.Errorf("ack: %v", err)
			}
		}()
		wg.Wait()
		if purgeErr == nil {
			purged++
			cancel()
		} else {
			first++
		}
		<-done
		cancel()
	}
	t.Logf("both %d purged %d get-first %d", both, purged, first)
	if both > 0 {
		t.Fatalf("%d of 200 items were both purged and leased for delivery", both)
	}
}
