package diskq

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestInspectBesideRunningQueue: Inspect reads a queue its owner has open
// (`ferry status` with no status listener, `ferry doctor`) and promised to
// count what the owner writes or settles meanwhile either way. But a
// record it read while the owner was writing it failed its check, and the
// record the owner wrote after it made that a corrupt record in the middle
// of the segment: `ferry status` said "corrupt records: 1 skipped (disk
// damage? see the log)" of a sound disk (2 to 36 of these 300 reads; 4 in
// 10 with the default segment size). And a read failed when the owner cut
// a segment's pre-zeroed tail off at a rotation while it was read ("read
// segment ... EOF"), or removed a settled segment between the listing and
// the open. The newest segment of a queue in use now ends where the
// owner's writing stands, a file that ends sooner than it did ends there,
// and a segment removed since the listing is passed over.
func TestInspectBesideRunningQueue(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 4096})
	defer closeQ(t, q)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if err := q.Put(ctx, &queue.Item{Body: []byte(phi)}); err != nil {
				return
			}
			_, a, err := q.Get(ctx)
			if err != nil {
				return
			}
			a(ctx, nil)
		}
	}()
	var failed []error
	for range 300 {
		snap, err := Inspect(dir, "", 1)
		switch {
		case err != nil:
			failed = append(failed, err)
		case snap.Stats.Corrupt > 0:
			failed = append(failed, errors.New("corrupt records counted"))
		}
	}
	cancel()
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of 300 reads beside the running queue failed or counted damage, the first: %v", len(failed), failed[0])
	}
}
