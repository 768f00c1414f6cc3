package transport

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// answerError is a receiver's answer as a sink reports it: its text may
// quote patient data, its Summary does not.
type answerError struct{}

func (answerError) Error() string {
	return "exchange answered 503 Service Unavailable: Patient Jane Doe locked"
}
func (answerError) Summary() string { return "exchange answered 503 Service Unavailable" }

// TestMaxAgeReasonSummarised: an item dead-lettered for exchange.retry.
// max_age is named so in the PHI-free descriptions (the log line, Stats'
// LastError, the audit event's through OnRejected and Summary), not as
// the retryable answer alone ("exchange answered 503"), which read as a
// 503 dead-lettered.
func TestMaxAgeReasonSummarised(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	var mu sync.Mutex
	clock := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	sink := newScriptSink()
	sink.script = func(it *queue.Item, _ int) error {
		if it.ID == "poison" {
			return answerError{}
		}
		return nil
	}
	attempts := func(id string) int { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.attempts[id] }
	rejected := make(chan string, 1)
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 1, InitialInterval: time.Second, MaxInterval: time.Minute, MaxAge: time.Hour,
		OnRejected: func(_ *queue.Item, err error) { rejected <- Summary(err) }})
	d.now = now
	d.sleep = func(ctx context.Context, dur time.Duration) error { return ctx.Err() }
	d.until = func(time.Duration) time.Time { return time.Now().Add(time.Millisecond) }

	put(t, q, "good-0", "other")
	put(t, q, "poison", "sick")
	d.Start(context.Background())
	defer shutdown(t, d)
	waitFor(t, "the poison item failing while others flow", func() bool { return d.Stats().Delivered == 1 && attempts("poison") >= 2 })
	n := attempts("poison")
	waitFor(t, "another retry", func() bool { return attempts("poison") > n })
	advance(59 * time.Second)
	put(t, q, "good-1", "other")
	waitFor(t, "a delivery", func() bool { return d.Stats().Delivered == 2 })
	advance(time.Hour)
	put(t, q, "good-2", "other")
	waitFor(t, "the poison item dead-lettered", func() bool { return d.Stats().DeadLettered == 1 })

	sum := <-rejected
	if !strings.Contains(sum, "retried for") || !strings.Contains(sum, "503") || strings.Contains(sum, "Jane") {
		t.Errorf("OnRejected's summary %q, want it to say the item was retried for max_age, with the last answer's summary", sum)
	}
	if le := d.Stats().LastError; !strings.Contains(le, "retried for") || strings.Contains(le, "Jane") {
		t.Errorf("LastError %q, want it to say the item was retried for max_age", le)
	}
}
