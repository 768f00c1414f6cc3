package transport

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestDeliveryHooks: OnDelivered sees every delivered item once, with its
// attributes, and OnRejected sees the dead-lettered one with its error;
// retried attempts call neither, nor does an item with nothing to send
// (it leaves the queue, counted as skipped).
func TestDeliveryHooks(t *testing.T) {
	q := openQueue(t, t.TempDir())
	defer q.Close(context.Background())
	for _, id := range []string{"a", "b", "bad", "c", "part"} {
		if err := q.Put(context.Background(), &queue.Item{ID: id, Key: "p", Body: []byte(`{}`), Attrs: map[string]string{"control_id": "ctl-" + id}}); err != nil {
			t.Fatal(err)
		}
	}
	sink := newScriptSink()
	sink.script = func(it *queue.Item, n int) error {
		switch {
		case it.ID == "bad":
			return queue.Permanent(phiError{})
		case it.ID == "b" && n == 1:
			return errors.New("HTTP 503")
		case it.ID == "part":
			return ErrNothingToSend
		}
		return nil
	}
	var mu sync.Mutex
	var delivered, rejected []string
	d := NewDispatcher(q, sink, DispatcherOptions{
		Workers: 2,
		OnDelivered: func(it *queue.Item) {
			mu.Lock()
			delivered = append(delivered, it.ID+"="+it.Attrs["control_id"])
			mu.Unlock()
		},
		OnRejected: func(it *queue.Item, err error) {
			mu.Lock()
			rejected = append(rejected, it.ID+"="+Summary(err))
			mu.Unlock()
		},
	})
	recordSleeps(d)
	d.Start(context.Background())
	waitFor(t, "settled", func() bool { st := d.Stats(); return st.Delivered == 3 && st.DeadLettered == 1 && st.Skipped == 1 })
	shutdown(t, d)
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(delivered)
	if got := strings.Join(delivered, ","); got != "a=ctl-a,b=ctl-b,c=ctl-c" {
		t.Errorf("OnDelivered saw %s", got)
	}
	if got := strings.Join(rejected, ","); got != "bad=HTTP 400 (issue invalid)" {
		t.Errorf("OnRejected saw %s", got)
	}
	if n := q.Len(); n != 0 {
		t.Errorf("%d items left in the queue", n)
	}
}
