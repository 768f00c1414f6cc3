// Package queuetest holds the contract tests that every queue.Queue
// implementation must pass. An implementation's test calls RunContract
// with a function that opens its queue in a directory:
//
//	func TestContract(t *testing.T) {
//		queuetest.RunContract(t, func(t *testing.T, dir string) queue.Queue {
//			q, err := diskq.Open(dir, diskq.Options{MaxBytes: queuetest.MaxBytes})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return q
//		})
//	}
//
// open is called again with the same dir after Close to check what
// survives a restart; it must therefore store everything under dir.
package queuetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// MaxBytes is the capacity the queue returned by open must be limited to
// (give or take per-item overhead): the ErrFull test fills it.
const MaxBytes = 1 << 20

// OpenFunc opens the queue under test in dir.
type OpenFunc func(t *testing.T, dir string) queue.Queue

// RunContract runs the contract tests as subtests of t.
func RunContract(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, OpenFunc)
	}{
		{"PutGetAckFIFO", testFIFO},
		{"PerKeyOrder", testPerKeyOrder},
		{"PerKeyOrderConcurrent", testPerKeyConcurrent},
		{"NackRedelivers", testNack},
		{"PermanentDeadLetters", testPermanent},
		{"ReopenKeepsItems", testReopenKeeps},
		{"ReopenRedeliversLeases", testReopenLeases},
		{"ErrFull", testFull},
		{"CloseUnblocksGet", testCloseUnblocks},
		{"AckAfterClose", testAckAfterClose},
		{"AckTwice", testAckTwice},
		{"GetHonoursContext", testGetContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// nothingReady is how long a Get waits to show that no item is
// deliverable. It bounds a wait; no test asserts on timing.
const nothingReady = 50 * time.Millisecond

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustPut(t *testing.T, q queue.Queue, it *queue.Item) *queue.Item {
	t.Helper()
	if err := q.Put(ctx(t), it); err != nil {
		t.Fatalf("Put: %v", err)
	}
	return it
}

func mustGet(t *testing.T, q queue.Queue) (*queue.Item, queue.AckFunc) {
	t.Helper()
	it, ack, err := q.Get(ctx(t))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return it, ack
}

func mustAck(t *testing.T, ack queue.AckFunc, err error) {
	t.Helper()
	if aerr := ack(ctx(t), err); aerr != nil {
		t.Fatalf("ack(%v): %v", err, aerr)
	}
}

func expectNothing(t *testing.T, q queue.Queue) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), nothingReady)
	defer cancel()
	it, _, err := q.Get(c)
	if err == nil {
		t.Fatalf("Get returned item %s (key %q), want nothing deliverable", it.ID, it.Key)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get: %v, want context.DeadlineExceeded", err)
	}
}

func closeQ(t *testing.T, q queue.Queue) {
	t.Helper()
	if err := q.Close(ctx(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func item(key string, i int) *queue.Item {
	return &queue.Item{
		Key:    key,
		Source: "test",
		Body:   fmt.Appendf(nil, `{"resourceType":"Bundle","n":%d,"key":%q}`, i, key),
		Attrs:  map[string]string{"n": fmt.Sprint(i), "type": "ADT^A01"},
	}
}

func same(t *testing.T, got, want *queue.Item) {
	t.Helper()
	if got.ID != want.ID || got.Key != want.Key || got.Source != want.Source ||
		!bytes.Equal(got.Body, want.Body) || !maps.Equal(got.Attrs, want.Attrs) {
		t.Fatalf("got item %+v, want %+v", got, want)
	}
}

func testFIFO(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	defer closeQ(t, q)
	var put []*queue.Item
	before := time.Now()
	for i := range 10 {
		it := mustPut(t, q, item("", i))
		if it.ID == "" {
			t.Fatal("Put left ID empty")
		}
		if it.Enqueued.Before(before.Add(-time.Second)) {
			t.Fatalf("Put set Enqueued %v, before the Put", it.Enqueued)
		}
		put = append(put, it)
	}
	if n := q.Len(); n != 10 {
		t.Fatalf("Len = %d, want 10", n)
	}
	for i := range 10 {
		got, ack := mustGet(t, q)
		same(t, got, put[i])
		if got.Attempts != 0 {
			t.Fatalf("Attempts = %d on first delivery", got.Attempts)
		}
		mustAck(t, ack, nil)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("Len = %d after acking all, want 0", n)
	}
	expectNothing(t, q)

	// A caller-chosen ID is kept.
	it := mustPut(t, q, &queue.Item{ID: "bundle-1", Body: []byte("{}")})
	got, ack := mustGet(t, q)
	same(t, got, it)
	mustAck(t, ack, nil)
}

func testPerKeyOrder(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	defer closeQ(t, q)
	a1 := mustPut(t, q, item("A", 1))
	b1 := mustPut(t, q, item("B", 1))
	a2 := mustPut(t, q, item("A", 2))
	b2 := mustPut(t, q, item("B", 2))
	a3 := mustPut(t, q, item("A", 3))
	free := mustPut(t, q, item("", 9))

	got, ackA1 := mustGet(t, q)
	same(t, got, a1)
	got, ackB1 := mustGet(t, q)
	same(t, got, b1)
	// A2 and B2 wait for their keys; the unkeyed item does not.
	got, ackFree := mustGet(t, q)
	same(t, got, free)
	mustAck(t, ackFree, nil)
	expectNothing(t, q)

	mustAck(t, ackA1, nil)
	got, ackA2 := mustGet(t, q)
	same(t, got, a2)
	// B1 fails and comes back before B2.
	mustAck(t, ackB1, errors.New("exchange unavailable"))
	got, ackB1 = mustGet(t, q)
	same(t, got, b1)
	if got.Attempts != 1 {
		t.Fatalf("redelivered B1 Attempts = %d, want 1", got.Attempts)
	}
	expectNothing(t, q)
	mustAck(t, ackB1, nil)
	got, ackB2 := mustGet(t, q)
	same(t, got, b2)
	mustAck(t, ackB2, nil)
	mustAck(t, ackA2, nil)
	got, ackA3 := mustGet(t, q)
	same(t, got, a3)
	mustAck(t, ackA3, nil)
	if n := q.Len(); n != 0 {
		t.Fatalf("Len = %d, want 0", n)
	}
}

// testPerKeyConcurrent runs several consumers over interleaved keys and
// checks that a key is never leased twice at once and that each key's
// items arrive in Put order, with some deliveries failing on the way.
func testPerKeyConcurrent(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	defer closeQ(t, q)
	const keys, perKey = 8, 25
	for i := range perKey {
		for k := range keys {
			mustPut(t, q, item(fmt.Sprintf("patient-%d", k), i))
		}
	}
	var (
		mu     sync.Mutex
		busy   = map[string]bool{}
		next   = map[string]int{}
		fails  int
		failed error
		wg     sync.WaitGroup
	)
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	done := 0
	for range 4 {
		wg.Go(func() {
			for {
				it, ack, err := q.Get(c)
				if err != nil {
					return
				}
				mu.Lock()
				if busy[it.Key] {
					failed = fmt.Errorf("key %s leased twice at once", it.Key)
				}
				busy[it.Key] = true
				if want := fmt.Sprint(next[it.Key]); it.Attrs["n"] != want {
					failed = fmt.Errorf("key %s: got item %s, want %s", it.Key, it.Attrs["n"], want)
				}
				fail := fails < 20 && (next[it.Key]+len(it.Key))%7 == 0 && it.Attempts == 0
				mu.Unlock()

				mu.Lock()
				busy[it.Key] = false
				var aerr error
				if fail {
					fails++
					aerr = errors.New("retry me")
				} else {
					next[it.Key]++
					done++
					if done == keys*perKey {
						cancel()
					}
				}
				mu.Unlock()
				if err := ack(c, aerr); err != nil {
					mu.Lock()
					failed = fmt.Errorf("ack: %w", err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	if done != keys*perKey {
		t.Fatalf("delivered %d items, want %d", done, keys*perKey)
	}
	if fails == 0 {
		t.Fatal("no delivery failed; the test lost its point")
	}
}

func testNack(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	defer closeQ(t, q)
	want := mustPut(t, q, item("", 1))
	for attempt := range 3 {
		got, ack := mustGet(t, q)
		same(t, got, want)
		if got.Attempts != attempt {
			t.Fatalf("Attempts = %d, want %d", got.Attempts, attempt)
		}
		mustAck(t, ack, fmt.Errorf("attempt %d: %w", attempt, context.DeadlineExceeded))
	}
	if n := q.Len(); n != 1 {
		t.Fatalf("Len = %d after ordinary errors, want 1 (never delete on error)", n)
	}
	got, ack := mustGet(t, q)
	same(t, got, want)
	mustAck(t, ack, nil)
}

func testPermanent(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	defer closeQ(t, q)
	bad := mustPut(t, q, item("A", 1))
	next := mustPut(t, q, item("A", 2))
	got, ack := mustGet(t, q)
	same(t, got, bad)
	mustAck(t, ack, queue.Permanent(errors.New("HTTP 422: invalid bundle")))
	if n := q.Len(); n != 1 {
		t.Fatalf("Len = %d after dead-lettering one of two, want 1", n)
	}
	// The key moves on to the next item.
	got, ack = mustGet(t, q)
	same(t, got, next)
	mustAck(t, ack, nil)
	expectNothing(t, q)
}

func testReopenKeeps(t *testing.T, open OpenFunc) {
	dir := t.TempDir()
	q := open(t, dir)
	var put []*queue.Item
	for i := range 5 {
		put = append(put, mustPut(t, q, item(fmt.Sprintf("k%d", i%2), i)))
	}
	got, ack := mustGet(t, q)
	same(t, got, put[0])
	mustAck(t, ack, nil)
	closeQ(t, q)

	q = open(t, dir)
	defer closeQ(t, q)
	if n := q.Len(); n != 4 {
		t.Fatalf("Len after reopen = %d, want 4", n)
	}
	for _, want := range put[1:] {
		got, ack := mustGet(t, q)
		same(t, got, want)
		mustAck(t, ack, nil)
	}
}

func testReopenLeases(t *testing.T, open OpenFunc) {
	dir := t.TempDir()
	q := open(t, dir)
	a := mustPut(t, q, item("", 1))
	b := mustPut(t, q, item("K", 2))
	c := mustPut(t, q, item("K", 3))
	got, _ := mustGet(t, q) // leased, never settled
	same(t, got, a)
	got, ackB := mustGet(t, q)
	same(t, got, b)
	mustAck(t, ackB, errors.New("timeout")) // back with Attempts 1
	got, _ = mustGet(t, q)
	same(t, got, b)
	closeQ(t, q)

	q = open(t, dir)
	defer closeQ(t, q)
	if n := q.Len(); n != 3 {
		t.Fatalf("Len after reopen = %d, want 3", n)
	}
	for _, want := range []*queue.Item{a, b, c} {
		got, ack := mustGet(t, q)
		same(t, got, want)
		if want == b && got.Attempts < 1 {
			t.Fatalf("item B Attempts = %d after a failed attempt, want >= 1", got.Attempts)
		}
		mustAck(t, ack, nil)
	}
}

func testFull(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	defer closeQ(t, q)
	body := bytes.Repeat([]byte("x"), 4096)
	stored := 0
	for {
		err := q.Put(ctx(t), &queue.Item{Body: body})
		if errors.Is(err, queue.ErrFull) {
			break
		}
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		stored++
		if stored*len(body) > 2*MaxBytes {
			t.Fatalf("stored %d bytes without ErrFull; MaxBytes is %d", stored*len(body), MaxBytes)
		}
	}
	if stored == 0 {
		t.Fatal("the first Put was already ErrFull")
	}
	_, ack := mustGet(t, q)
	mustAck(t, ack, nil)
	if err := q.Put(ctx(t), &queue.Item{Body: body}); err != nil {
		t.Fatalf("Put after settling one item: %v, want room again", err)
	}
}

func testCloseUnblocks(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		_, _, err := q.Get(context.Background())
		errc <- err
	}()
	<-started
	closeQ(t, q)
	if err := <-errc; !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("blocked Get after Close: %v, want queue.ErrClosed", err)
	}
	if _, _, err := q.Get(ctx(t)); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Get after Close: %v, want queue.ErrClosed", err)
	}
	if err := q.Put(ctx(t), item("", 1)); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Put after Close: %v, want queue.ErrClosed", err)
	}
	if err := q.Close(ctx(t)); err != nil {
		t.Fatalf("second Close: %v, want nil", err)
	}
}

func testAckAfterClose(t *testing.T, open OpenFunc) {
	dir := t.TempDir()
	q := open(t, dir)
	want := mustPut(t, q, item("", 1))
	_, ack := mustGet(t, q)
	closeQ(t, q)
	if err := ack(ctx(t), nil); err == nil {
		t.Fatal("ack after Close returned nil; the item cannot be settled then")
	}
	q = open(t, dir)
	defer closeQ(t, q)
	got, ack := mustGet(t, q)
	same(t, got, want)
	mustAck(t, ack, nil)
}

func testAckTwice(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	defer closeQ(t, q)
	mustPut(t, q, item("", 1))
	mustPut(t, q, item("", 2))
	_, ack := mustGet(t, q)
	mustAck(t, ack, nil)
	if err := ack(ctx(t), nil); err == nil {
		t.Fatal("second ack of one lease returned nil")
	}
	if n := q.Len(); n != 1 {
		t.Fatalf("Len = %d after double ack, want 1", n)
	}
}

func testGetContext(t *testing.T, open OpenFunc) {
	q := open(t, t.TempDir())
	defer closeQ(t, q)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := q.Get(c); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get on an empty queue with a cancelled context: %v, want context.Canceled", err)
	}
}
