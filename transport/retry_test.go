package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// TestPoisonItemsDoNotStallOtherKeys: with W workers and W items the
// exchange always fails (5xx), every other key is still delivered by the
// same workers; the failing items keep being retried with growing waits
// and the later items of their keys wait behind them.
func TestPoisonItemsDoNotStallOtherKeys(t *testing.T) {
	const workers = 2
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	for w := range workers {
		put(t, q, fmt.Sprintf("poison-%d", w), fmt.Sprintf("sick-%d", w))
		put(t, q, fmt.Sprintf("after-%d", w), fmt.Sprintf("sick-%d", w))
	}
	for i := range 10 {
		put(t, q, fmt.Sprintf("good-%d", i), fmt.Sprintf("well-%d", i))
	}
	var poisoned sync.Map // ID → still failing
	for w := range workers {
		poisoned.Store(fmt.Sprintf("poison-%d", w), true)
	}
	sink := newScriptSink()
	sink.script = func(it *queue.Item, n int) error {
		if _, ok := poisoned.Load(it.ID); ok {
			return errors.New("HTTP 500 internal server error")
		}
		return nil
	}
	// Real (short) not-before times in the queue; the workers' own
	// backoff is recorded instead of slept.
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: workers, InitialInterval: time.Millisecond, MaxInterval: 8 * time.Millisecond})
	recordSleeps(d)
	d.rand = func(n int64) int64 { return n - 1 } // the top of each range
	var mu sync.Mutex
	var waits []time.Duration
	d.until = func(w time.Duration) time.Time {
		mu.Lock()
		waits = append(waits, w)
		mu.Unlock()
		return time.Now().Add(w)
	}
	d.Start(context.Background())
	defer shutdown(t, d)

	waitFor(t, "the other keys delivered", func() bool {
		sent, _ := sink.snapshot()
		n := 0
		for _, id := range sent {
			if strings.HasPrefix(id, "good-") {
				n++
			}
		}
		return n == 10
	})
	waitFor(t, "poison items retried", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.attempts["poison-0"] >= 6 && sink.attempts["poison-1"] >= 6
	})
	sent, _ := sink.snapshot()
	for _, id := range sent {
		if strings.HasPrefix(id, "after-") {
			t.Fatalf("%s delivered while the item before it still fails: %v", id, sent)
		}
	}
	// Each retry asked the queue to wait, and the queue counted attempts.
	for _, p := range q.Pending(0) {
		if strings.HasPrefix(p.ID, "poison-") && p.Attempts < 5 {
			t.Errorf("%s: %d attempts counted", p.ID, p.Attempts)
		}
	}
	mu.Lock()
	longest := time.Duration(0)
	for _, w := range waits {
		if w <= 0 || w > 8*time.Millisecond+1 {
			t.Errorf("retry wait %v outside (0, max_interval]", w)
		}
		longest = max(longest, w)
	}
	mu.Unlock()
	if longest != 8*time.Millisecond {
		t.Errorf("retry waits never grew past the first interval: longest %v", longest)
	}

	for w := range workers {
		poisoned.Delete(fmt.Sprintf("poison-%d", w))
	}
	waitFor(t, "everything delivered", func() bool { return q.Len() == 0 })
	sent, _ = sink.snapshot()
	pos := map[string]int{}
	for i, id := range sent {
		pos[id] = i
	}
	for w := range workers {
		if pos[fmt.Sprintf("poison-%d", w)] > pos[fmt.Sprintf("after-%d", w)] {
			t.Errorf("key sick-%d delivered out of order: %v", w, sent)
		}
	}
}

// timeoutError is what a client's deadline looks like as a net.Error.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

// TestUnknownOutcomeWaitsBeforeResending: after a timeout or a reset
// connection the exchange may still be committing the transaction, so
// the re-send waits at least UnknownOutcomeDelay, however short the
// backoff; an answer (a 503) or a refused connection does not.
func TestUnknownOutcomeWaitsBeforeResending(t *testing.T) {
	unknown := []error{
		fmt.Errorf("post bundle x: %w", context.DeadlineExceeded),
		fmt.Errorf("post bundle x: %w", os.ErrDeadlineExceeded),
		fmt.Errorf("post bundle x: %w", timeoutError{}),
		fmt.Errorf("post bundle x: %w", io.ErrUnexpectedEOF),
		fmt.Errorf("post bundle x: %w", io.EOF),
		fmt.Errorf("post bundle x: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
		// The system gave up on the connection (retransmissions or
		// keep-alives unanswered; on Windows also a firewall or
		// antivirus ending it): WSAECONNABORTED "an established
		// connection was aborted by the software in your host machine",
		// WSAETIMEDOUT.
		fmt.Errorf("post bundle x: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError(testCall, testAborted)}),
		fmt.Errorf("post bundle x: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError(testCall, testTimedOut)}),
		fmt.Errorf("no progress for 30s: %w", context.Canceled), // the sink's watchdog
	}
	known := []error{
		errors.New("HTTP 503 service unavailable"),
		fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
	}
	cases := append(append([]error(nil), unknown...), known...)
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	put(t, q, "tx", "patient")
	put(t, q, "next", "patient")
	sink := newScriptSink()
	sink.script = func(it *queue.Item, n int) error {
		if it.ID == "tx" && n <= len(cases) {
			return cases[n-1]
		}
		return nil
	}
	const delay = 45 * time.Second
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 2, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, UnknownOutcomeDelay: delay})
	recordSleeps(d)
	waits := recordWaits(d)
	d.Start(context.Background())
	waitFor(t, "both delivered", func() bool { return d.Stats().Delivered == 2 })
	shutdown(t, d)
	got := waits()
	if len(got) != len(cases) {
		t.Fatalf("%d retry waits for %d failures: %v", len(got), len(cases), got)
	}
	for i, w := range got {
		if i < len(unknown) && w < delay {
			t.Errorf("after %q the re-send waited %v, want at least %v", cases[i], w, delay)
		}
		if i >= len(unknown) && w >= delay {
			t.Errorf("after %q the re-send waited %v: an answer is no unknown outcome", cases[i], w)
		}
	}
	if sent, _ := sink.snapshot(); strings.Join(sent, ",") != "tx,next" {
		t.Errorf("sent %v", sent)
	}
}

// TestRejectionBreakerHoldsTheBacklog: an exchange that rejects every
// item (a wrong URL answering 4xx) dead-letters only the first
// RejectLimit items; the rest are held and retried, Stats says why, and
// once the exchange accepts an item everything held is delivered and
// rejections are dead-lettered again.
func TestRejectionBreakerHoldsTheBacklog(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	const n = 40
	for i := range n {
		put(t, q, fmt.Sprintf("item-%02d", i), fmt.Sprintf("patient-%d", i%7))
	}
	var mu sync.Mutex
	broken := true
	sink := newScriptSink()
	sink.script = func(it *queue.Item, _ int) error {
		mu.Lock()
		defer mu.Unlock()
		if broken || it.ID == "bad" {
			return queue.Permanent(errors.New("HTTP 404 not found"))
		}
		return nil
	}
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 4, RejectLimit: 5})
	sleeps := recordSleeps(d)
	d.Start(context.Background())
	waitFor(t, "the breaker to trip", func() bool { return d.Stats().Paused })
	waitFor(t, "held items retried", func() bool { return d.Stats().Retried >= 3*n })
	st := d.Stats()
	if st.DeadLettered != 5 || st.Delivered != 0 || !strings.Contains(st.ConfigProblem, "delivery paused") {
		t.Fatalf("while paused: %+v", st)
	}
	// The fifth dead letter is counted when its ack is issued; the queue
	// lets the item go once that ack's record is synced, a moment later.
	waitFor(t, "the queue to hold all but the 5 dead letters", func() bool { return q.Len() == n-5 })
	if len(sleeps()) == 0 {
		t.Error("held items were retried without any backoff")
	}

	mu.Lock()
	broken = false
	mu.Unlock()
	// A delivery is counted just after its ack lets the item go: the last
	// one may still be in flight when the queue is empty.
	waitFor(t, "the backlog delivered", func() bool { return q.Len() == 0 && d.Stats().InFlight == 0 })
	st = d.Stats()
	if st.Paused || st.ConfigProblem != "" || st.Delivered != n-5 || st.DeadLettered != 5 {
		t.Fatalf("after recovery: %+v", st)
	}
	if dls, _ := q.DeadLetters(); len(dls) != 5 {
		t.Fatalf("%d dead letters, want 5", len(dls))
	}
	// Normal classification again: a genuine rejection is dead-lettered.
	put(t, q, "bad", "")
	waitFor(t, "the rejection dead-lettered", func() bool { return d.Stats().DeadLettered == 6 })
	shutdown(t, d)
}

// TestMaxAgeDeadLettersOnlyWhileOthersFlow: an item failing for MaxAge
// while other items are delivered is dead-lettered with the reason; an
// outage of the whole exchange, however long, dead-letters nothing.
func TestMaxAgeDeadLettersOnlyWhileOthersFlow(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	sink := newScriptSink()
	sink.script = func(it *queue.Item, _ int) error {
		if strings.HasPrefix(it.ID, "poison") || strings.HasPrefix(it.ID, "outage") {
			return errors.New("HTTP 500 internal server error")
		}
		return nil
	}
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 1, InitialInterval: time.Second, MaxInterval: time.Minute, MaxAge: 72 * time.Hour})
	d.now = now
	// Every sleep of the worker moves the clock by what it asked for.
	d.sleep = func(ctx context.Context, dur time.Duration) error {
		advance(dur)
		return ctx.Err()
	}
	d.until = func(time.Duration) time.Time { return time.Now() }

	// A long outage: nothing else is delivered, so no clock runs.
	put(t, q, "outage", "p1")
	d.Start(context.Background())
	waitFor(t, "outage retries", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.attempts["outage"] >= 3 })
	advance(100 * time.Hour)
	waitFor(t, "more outage retries", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.attempts["outage"] >= 6 })
	if st := d.Stats(); st.DeadLettered != 0 {
		t.Fatalf("an outage dead-lettered an item: %+v", st)
	}
	shutdown(t, d)
	if err := q.Purge(context.Background(), "outage"); err != nil {
		t.Fatal(err)
	}

	// A poison item among deliveries: dead-lettered after 72h of it.
	d = NewDispatcher(q, sink, DispatcherOptions{Workers: 1, InitialInterval: time.Second, MaxInterval: time.Minute, MaxAge: 72 * time.Hour})
	d.now = now
	d.sleep = func(ctx context.Context, dur time.Duration) error { return ctx.Err() }
	// The failing item waits a little in the queue for real, so that the
	// single worker takes the other items meanwhile.
	d.until = func(time.Duration) time.Time { return time.Now().Add(time.Millisecond) }
	put(t, q, "good-0", "other")
	put(t, q, "poison", "sick")
	put(t, q, "after", "sick")
	d.Start(context.Background())
	defer shutdown(t, d)
	waitFor(t, "the poison item failing", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.attempts["poison"] >= 2 })
	for i := 1; d.Stats().DeadLettered == 0; i++ {
		if i > 200 {
			t.Fatalf("never dead-lettered: %+v", d.Stats())
		}
		advance(time.Hour)
		put(t, q, fmt.Sprintf("good-%d", i), "other")
		waitFor(t, "delivery", func() bool { return d.Stats().Delivered >= uint64(i+1) })
		// One more attempt of the failing item at this hour, made after
		// the delivery, before the clock moves on.
		sink.mu.Lock()
		n := sink.attempts["poison"]
		sink.mu.Unlock()
		waitFor(t, "a retry", func() bool {
			sink.mu.Lock()
			defer sink.mu.Unlock()
			return sink.attempts["poison"] > n || d.Stats().DeadLettered > 0
		})
	}
	waitFor(t, "the dead letter stored", func() bool { dls, _ := q.DeadLetters(); return len(dls) > 0 })
	dls, err := q.DeadLetters()
	if err != nil || len(dls) != 1 || dls[0].ID != "poison" {
		t.Fatalf("dead letters %+v, %v", dls, err)
	}
	// The clock moves by the hour; the item fails at least once an hour.
	age, rest, _ := strings.Cut(strings.TrimPrefix(dls[0].Reason, "retried for "), ", ")
	if a, err := time.ParseDuration(age); err != nil || a < 72*time.Hour || a > 74*time.Hour || rest != "last error: HTTP 500 internal server error" {
		t.Errorf("reason %q, want retried for <72h..74h>, last error: HTTP 500 ...", dls[0].Reason)
	}
	waitFor(t, "the key's next item", func() bool { sent, _ := sink.snapshot(); return slicesContain(sent, "after") })
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
