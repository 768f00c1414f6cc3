package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// oneItemQueue hands out one item, then waits; it records the lease's
// settlement.
type oneItemQueue struct {
	it      *queue.Item
	once    sync.Once
	settled chan error
}

func (q *oneItemQueue) Put(context.Context, *queue.Item) error { return nil }
func (q *oneItemQueue) Len() int                               { return 1 }
func (q *oneItemQueue) Close(context.Context) error            { return nil }
func (q *oneItemQueue) Get(ctx context.Context) (*queue.Item, queue.AckFunc, error) {
	given := false
	q.once.Do(func() { given = true })
	if !given {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	return q.it, func(_ context.Context, err error) error {
		q.settled <- err
		return nil
	}, nil
}

// connectCounter counts the dispatcher's Connects of the outbox.
type connectCounter struct {
	*Sink
	connects atomic.Int64
	tooMany  chan struct{}
	once     sync.Once
}

func (c *connectCounter) Connect(ctx context.Context) error {
	if c.connects.Add(1) > 20 {
		c.once.Do(func() { close(c.tooMany) })
	}
	return c.Sink.Connect(ctx)
}

// TestMissingBodyIsNotAMissingOutbox: an item whose queued body file
// cannot be found (removed under the queue) is not a missing outbox
// folder. Taken for one (fs.ErrNotExist), it sent the dispatcher to
// Connect, which found the folder there, and straight back to Send, in a
// loop with no backoff that held a worker and a CPU core for as long as
// the process ran, and never settled the item.
func TestMissingBodyIsNotAMissingOutbox(t *testing.T) {
	s := New(t.TempDir())
	missing := fmt.Errorf("open queue item body: %w", fs.ErrNotExist)
	it := &queue.Item{ID: "01JMISSINGBODY000000000000", Size: 10,
		Open: func() (io.ReadCloser, error) { return nil, missing }}
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := s.Send(context.Background(), it)
	if err == nil || errors.Is(err, transport.ErrNotConnected) || queue.IsPermanent(err) {
		t.Errorf("missing body: %v, want a retryable error that is not ErrNotConnected", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v does not keep its cause", err)
	}

	q := &oneItemQueue{it: it, settled: make(chan error, 1)}
	cc := &connectCounter{Sink: New(t.TempDir()), tooMany: make(chan struct{})}
	d := transport.NewDispatcher(q, cc, transport.DispatcherOptions{Workers: 1})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	select {
	case err := <-q.settled:
		if err == nil || queue.IsPermanent(err) {
			t.Errorf("settled with %v, want a retry later", err)
		}
	case <-cc.tooMany:
		t.Fatalf("the dispatcher reconnected the outbox %d times for one item and never settled it", cc.connects.Load())
	}
}
