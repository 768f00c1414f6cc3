package transport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// TestMaxAgeOutageAfterClockStartedDoesNotCount: an item whose MaxAge
// clock started while other items were delivered, then an outage of the
// whole exchange (the other items failing too) far longer than MaxAge,
// is not dead-lettered at its first retry once the exchange is back: it
// failed for minutes while the exchange took other bundles, and "an
// outage of the whole exchange, a long weekend or longer, never counts"
// (README, Delivery).
func TestMaxAgeOutageAfterClockStartedDoesNotCount(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	var mu sync.Mutex
	clock := time.Date(2026, 1, 2, 17, 0, 0, 0, time.UTC) // a Friday
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	var down atomic.Bool
	sink := newScriptSink()
	sink.script = func(it *queue.Item, _ int) error {
		if it.ID == "poison" || down.Load() {
			return errors.New("HTTP 500 internal server error")
		}
		return nil
	}
	attempts := func(id string) int { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.attempts[id] }
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 1, InitialInterval: time.Second, MaxInterval: time.Minute, MaxAge: 72 * time.Hour})
	d.now = now
	d.sleep = func(ctx context.Context, dur time.Duration) error { return ctx.Err() }
	d.until = func(time.Duration) time.Time { return time.Now().Add(time.Millisecond) }

	// Friday: the poison item fails while another is delivered; its
	// clock starts.
	put(t, q, "good-0", "other")
	put(t, q, "poison", "sick")
	d.Start(context.Background())
	defer shutdown(t, d)
	waitFor(t, "a delivery and the poison item failing", func() bool { return d.Stats().Delivered == 1 && attempts("poison") >= 2 })

	// The exchange goes down for the weekend: new bundles fail too.
	down.Store(true)
	advance(time.Hour)
	put(t, q, "weekend", "another")
	waitFor(t, "the outage seen", func() bool { return attempts("weekend") >= 2 })
	n := attempts("poison")
	waitFor(t, "the poison item retried in the outage", func() bool { return attempts("poison") >= n+2 })
	advance(100 * time.Hour)
	n, w := attempts("poison"), attempts("weekend")
	waitFor(t, "retries at the end of the outage", func() bool { return attempts("poison") >= n+2 && attempts("weekend") >= w+2 })

	// Monday: the exchange is back and takes the weekend's bundle.
	down.Store(false)
	waitFor(t, "the weekend's bundle delivered", func() bool { return d.Stats().Delivered == 2 })
	n = attempts("poison")
	waitFor(t, "the poison item retried while others flow", func() bool {
		return attempts("poison") >= n+3 || d.Stats().DeadLettered > 0
	})
	if st := d.Stats(); st.DeadLettered != 0 {
		t.Fatalf("dead-lettered after minutes of failing while the exchange took other bundles, the weekend's outage counted: %s", st.LastError)
	}
}
