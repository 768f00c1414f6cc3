package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// scriptSink is the far end for dispatcher tests: script decides the
// outcome of each Send, and every call is recorded.
type scriptSink struct {
	mu          sync.Mutex
	script      func(it *queue.Item, attempt int) error
	connect     func(n int) error
	connects    int
	attempts    map[string]int
	sent        []string // IDs in the order of successful Sends
	calls       []string // IDs in the order of all Sends
	closed      bool
	sendStarted chan string
}

func newScriptSink() *scriptSink {
	return &scriptSink{attempts: map[string]int{}}
}

func (s *scriptSink) Connect(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connects++
	if s.connect != nil {
		return s.connect(s.connects)
	}
	return nil
}

func (s *scriptSink) Send(ctx context.Context, it *queue.Item) error {
	s.mu.Lock()
	s.attempts[it.ID]++
	n := s.attempts[it.ID]
	s.calls = append(s.calls, it.ID)
	script, started := s.script, s.sendStarted
	s.mu.Unlock()
	if started != nil {
		started <- it.ID
	}
	var err error
	if script != nil {
		err = script(it, n)
	}
	if err == errBlock {
		<-ctx.Done()
		err = ctx.Err()
	}
	if err == nil {
		s.mu.Lock()
		s.sent = append(s.sent, it.ID)
		s.mu.Unlock()
	}
	return err
}

var errBlock = errors.New("block until cancelled")

func (s *scriptSink) Close(context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *scriptSink) snapshot() (sent, calls []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent...), append([]string(nil), s.calls...)
}

func openQueue(t *testing.T, dir string) *diskq.Queue {
	t.Helper()
	q, err := diskq.Open(dir, diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func put(t *testing.T, q queue.Queue, id, key string) {
	t.Helper()
	if err := q.Put(context.Background(), &queue.Item{ID: id, Key: key, Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond; the deadline only guards against a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recordSleeps replaces waiting with recording, so tests check the
// requested delays without spending them.
func recordSleeps(d *Dispatcher) func() []time.Duration {
	var mu sync.Mutex
	var got []time.Duration
	d.sleep = func(ctx context.Context, dur time.Duration) error {
		mu.Lock()
		got = append(got, dur)
		mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Microsecond) // yield
		return nil
	}
	// Items given back for a retry are due at once, too.
	d.until = func(time.Duration) time.Time { return time.Now() }
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), got...)
	}
}

// recordWaits records the retry waits the dispatcher asks the queue for
// (queue.NotBefore), making every item due at once.
func recordWaits(d *Dispatcher) func() []time.Duration {
	var mu sync.Mutex
	var got []time.Duration
	d.until = func(w time.Duration) time.Time {
		mu.Lock()
		got = append(got, w)
		mu.Unlock()
		return time.Now()
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), got...)
	}
}

func shutdown(t *testing.T, d *Dispatcher) {
	t.Helper()
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDeliversEverythingInPerKeyOrder(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	const keys, per = 5, 20
	for i := range per {
		for k := range keys {
			put(t, q, fmt.Sprintf("k%d-%03d", k, i), fmt.Sprintf("k%d", k))
		}
	}
	sink := newScriptSink()
	// Every third attempt of an item fails once, to mix retries in.
	sink.script = func(it *queue.Item, n int) error {
		if n == 1 && strings.HasSuffix(it.ID, "3") {
			return errors.New("flaky network")
		}
		return nil
	}
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 4})
	recordSleeps(d)
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all delivered", func() bool { return d.Stats().Delivered == keys*per })
	shutdown(t, d)
	if q.Len() != 0 {
		t.Fatalf("queue still holds %d", q.Len())
	}
	sent, _ := sink.snapshot()
	last := map[string]string{}
	for _, id := range sent {
		k := id[:2]
		if id <= last[k] {
			t.Fatalf("key %s: %s delivered after %s", k, id, last[k])
		}
		last[k] = id
	}
	st := d.Stats()
	if st.Retried != uint64(keys*2) || st.DeadLettered != 0 || st.LastDelivery.IsZero() || st.Failing {
		t.Errorf("stats %+v", st)
	}
	if !sink.closed {
		t.Error("Shutdown did not close the sink")
	}
}

// TestRetryKeepsKeyOrder: a retried item gives its lease back, yet the
// next item of its key waits until it is delivered; the waits grow with
// its attempts.
func TestRetryKeepsKeyOrder(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	put(t, q, "a1", "patient-a")
	put(t, q, "a2", "patient-a")
	put(t, q, "b1", "patient-b")
	sink := newScriptSink()
	sink.script = func(it *queue.Item, n int) error {
		if it.ID == "a1" && n <= 3 {
			return errors.New("503 from exchange")
		}
		return nil
	}
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 3, InitialInterval: time.Second, MaxInterval: 4 * time.Second})
	sleeps := recordSleeps(d)
	waits := recordWaits(d)
	d.Start(context.Background())
	waitFor(t, "3 delivered", func() bool { return d.Stats().Delivered == 3 })
	shutdown(t, d)
	_, calls := sink.snapshot()
	seenA1ok := false
	a1Calls := 0
	for _, id := range calls {
		switch id {
		case "a1":
			a1Calls++
			seenA1ok = a1Calls == 4
		case "a2":
			if !seenA1ok {
				t.Fatalf("a2 sent before a1 was delivered: %v", calls)
			}
		}
	}
	if a1Calls != 4 || d.Stats().Retried != 3 {
		t.Fatalf("a1 attempts %d, retried %d", a1Calls, d.Stats().Retried)
	}
	if len(sleeps()) != 3 {
		t.Errorf("worker backoffs %v, want one per failure", sleeps())
	}
	for i, s := range waits() {
		ceiling := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}[i]
		if s <= 0 || s > ceiling+1 {
			t.Errorf("wait %d = %v, outside (0, %v]", i, s, ceiling)
		}
	}
}

func TestBackoffFullJitterCapped(t *testing.T) {
	d := NewDispatcher(nil, nil, DispatcherOptions{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second})
	d.rand = func(n int64) int64 { return n - 1 } // the top of each range
	b := d.newBackoff()
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.next(); got != w*time.Millisecond {
			t.Errorf("step %d: %v, want %v", i, got, w*time.Millisecond)
		}
	}
	for range 100 {
		b.next() // no overflow however long the outage
	}
	if got := b.next(); got != time.Second {
		t.Errorf("after many steps: %v", got)
	}
	d.rand = func(int64) int64 { return 0 }
	if got := d.newBackoff().next(); got <= 0 {
		t.Errorf("zero jitter gives %v; must stay positive", got)
	}
	huge := NewDispatcher(nil, nil, DispatcherOptions{InitialInterval: time.Hour, MaxInterval: 1<<63 - 1})
	huge.rand = func(n int64) int64 { return n - 1 }
	hb := huge.newBackoff()
	for range 80 {
		if got := hb.next(); got <= 0 {
			t.Fatalf("overflow: %v", got)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	put(t, q, "x", "")
	sink := newScriptSink()
	sink.script = func(it *queue.Item, n int) error {
		switch n {
		case 1:
			return &RetryAfterError{Err: errors.New("429 too many requests"), After: 42 * time.Second}
		case 2:
			return &RetryAfterError{Err: errors.New("503"), After: 99 * time.Hour}
		}
		return nil
	}
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 1, InitialInterval: time.Millisecond, MaxInterval: 10 * time.Millisecond})
	sleeps := recordSleeps(d)
	d.Start(context.Background())
	waitFor(t, "delivery", func() bool { return d.Stats().Delivered == 1 })
	shutdown(t, d)
	got := sleeps()
	if len(got) != 2 || got[0] != 42*time.Second || got[1] != MaxRetryAfter {
		t.Fatalf("waits %v, want [42s %v]", got, MaxRetryAfter)
	}
}

func TestPermanentFailureIsDeadLettered(t *testing.T) {
	var logs bytes.Buffer
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	put(t, q, "good", "p")
	put(t, q, "bad", "p")
	put(t, q, "after", "p")
	sink := newScriptSink()
	sink.script = func(it *queue.Item, n int) error {
		if it.ID == "bad" {
			return queue.Permanent(phiError{})
		}
		return nil
	}
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	d.Start(context.Background())
	waitFor(t, "settled", func() bool { st := d.Stats(); return st.Delivered == 2 && st.DeadLettered == 1 })
	shutdown(t, d)
	dls, err := q.DeadLetters()
	if err != nil || len(dls) != 1 || dls[0].ID != "bad" || !strings.Contains(dls[0].Reason, "Jane Roe") {
		t.Fatalf("dead letters %+v, %v", dls, err)
	}
	if st := d.Stats(); strings.Contains(st.LastError, "Jane Roe") || !strings.Contains(st.LastError, "HTTP 400") {
		t.Errorf("stats last error %q: want the PHI-free summary", st.LastError)
	}
	if strings.Contains(logs.String(), "Jane Roe") {
		t.Errorf("PHI in logs: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "dead-lettered") {
		t.Errorf("dead-lettering not logged: %s", logs.String())
	}
	sent, _ := sink.snapshot()
	if strings.Join(sent, ",") != "good,after" {
		t.Errorf("sent %v", sent)
	}
}

// phiError is what a sink returns when the receiver quoted patient data.
type phiError struct{}

func (phiError) Error() string   { return "HTTP 400: name Jane Roe rejected" }
func (phiError) Summary() string { return "HTTP 400 (issue invalid)" }

func TestReconnectOnNotConnected(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	for i := range 5 {
		put(t, q, fmt.Sprint(i), "")
	}
	sink := newScriptSink()
	sink.connect = func(n int) error {
		if n == 2 || n == 3 {
			return errors.New("dial: connection refused")
		}
		return nil
	}
	sink.script = func(it *queue.Item, n int) error {
		if it.ID == "2" && n == 1 {
			return fmt.Errorf("send: %w", ErrNotConnected)
		}
		return nil
	}
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 1})
	sleeps := recordSleeps(d)
	d.Start(context.Background())
	waitFor(t, "all delivered", func() bool { return d.Stats().Delivered == 5 })
	shutdown(t, d)
	st := d.Stats()
	if sink.connects != 4 || st.ConnectFailures != 2 || st.Retried != 0 {
		t.Fatalf("connects %d, stats %+v", sink.connects, st)
	}
	if len(sleeps()) != 2 {
		t.Errorf("connect backoff waits %v, want 2", sleeps())
	}
}

func TestShutdownRedeliversInFlightLease(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir)
	put(t, q, "inflight", "k")
	put(t, q, "next", "k")
	sink := newScriptSink()
	sink.sendStarted = make(chan string, 10)
	sink.script = func(*queue.Item, int) error { return errBlock }
	// A send that never ends is cut off at once (no ShutdownGrace); it
	// waits UnknownOutcomeDelay, short here, before it goes again.
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 2, ShutdownGrace: -1, UnknownOutcomeDelay: time.Millisecond})
	d.Start(context.Background())
	if id := <-sink.sendStarted; id != "inflight" {
		t.Fatalf("first send %s", id)
	}
	shutdown(t, d)
	shutdown(t, d) // idempotent
	if st := d.Stats(); st.Delivered != 0 || st.DeadLettered != 0 || st.Retried != 0 || st.InFlight != 0 {
		t.Fatalf("stats after shutdown %+v", st)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// After a restart both items are still there, in order, and the
	// interrupted one counts one attempt.
	q2 := openQueue(t, dir)
	defer q2.Close(context.Background())
	if q2.Len() != 2 {
		t.Fatalf("after restart the queue holds %d items, want 2", q2.Len())
	}
	sink2 := newScriptSink()
	sink2.script = func(it *queue.Item, n int) error {
		if it.ID == "inflight" && it.Attempts != 1 {
			t.Errorf("interrupted item has Attempts %d, want 1", it.Attempts)
		}
		return nil
	}
	d2 := NewDispatcher(q2, sink2, DispatcherOptions{Workers: 2})
	d2.Start(context.Background())
	waitFor(t, "redelivery", func() bool { return d2.Stats().Delivered == 2 })
	shutdown(t, d2)
	if sent, _ := sink2.snapshot(); strings.Join(sent, ",") != "inflight,next" {
		t.Fatalf("redelivered %v", sent)
	}
}

func TestLifecycle(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	// Shutdown without Start is safe and does not touch the sink.
	sink := newScriptSink()
	d := NewDispatcher(q, sink, DispatcherOptions{})
	shutdown(t, d)
	if sink.closed || sink.connects != 0 {
		t.Error("Shutdown without Start used the sink")
	}
	if err := d.Start(context.Background()); err == nil {
		t.Error("Start after Shutdown succeeded")
	}
	// Start, Start again (error), Shutdown; a new dispatcher on the same
	// queue works.
	d = NewDispatcher(q, newScriptSink(), DispatcherOptions{})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	shutdown(t, d)
	sink = newScriptSink()
	d = NewDispatcher(q, sink, DispatcherOptions{})
	d.Start(context.Background())
	put(t, q, "z", "")
	waitFor(t, "delivery", func() bool { return d.Stats().Delivered == 1 })
	shutdown(t, d)
	// A closed queue ends the workers quietly.
	d = NewDispatcher(q, newScriptSink(), DispatcherOptions{})
	d.Start(context.Background())
	q.Close(context.Background())
	shutdown(t, d)
}

// TestStaleNotConnectedKeepsNewConnection: a worker whose Send failed on
// the old connection (ErrNotConnected) after another worker had already
// reconnected marked the sink disconnected again and connected once more:
// the status showed the exchange disconnected while deliveries went
// through, and the needless second Connect (a second dial: one more
// connection to an MLLP receiver that may take only one) failing counted
// and showed as a connect failure and held every worker behind its
// backoff. Only the failure of the connection a Send used now asks for a
// new one.
func TestStaleNotConnectedKeepsNewConnection(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	put(t, q, "a", "ka")
	put(t, q, "b", "kb")
	aStarted, reconnected := make(chan struct{}), make(chan struct{})
	sink := newScriptSink()
	sink.connect = func(n int) error {
		if n == 3 {
			return errors.New("dial: the exchange takes one connection at a time")
		}
		return nil
	}
	sink.script = func(it *queue.Item, n int) error {
		switch {
		case it.ID == "a" && n == 1:
			// In flight on the first connection, which fails once the
			// other worker has reconnected and delivered over the
			// second.
			close(aStarted)
			<-reconnected
			return fmt.Errorf("send: %w", ErrNotConnected)
		case it.ID == "b" && n == 1:
			<-aStarted
			return fmt.Errorf("send: %w", ErrNotConnected)
		case it.ID == "b" && n == 2:
			close(reconnected)
		}
		return nil
	}
	d := NewDispatcher(q, sink, DispatcherOptions{Workers: 2})
	recordSleeps(d)
	d.Start(context.Background())
	waitFor(t, "both delivered", func() bool { return d.Stats().Delivered == 2 })
	st := d.Stats()
	shutdown(t, d)
	sink.mu.Lock()
	connects := sink.connects
	sink.mu.Unlock()
	if connects != 2 || st.ConnectFailures != 0 || !st.Connected || st.LastError != "" {
		t.Errorf("connects %d (want the first and one reconnect), connect failures %d, connected %v, last error %q",
			connects, st.ConnectFailures, st.Connected, st.LastError)
	}
}
