package diskq_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

func Example() {
	dir, _ := os.MkdirTemp("", "ferry-queue")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	q, err := diskq.Open(dir, diskq.Options{MaxBytes: 10 << 30})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close(ctx)

	// Source side: Put returns after fsync; only then ACK the sender.
	it := &queue.Item{Key: "patient-hash", Source: "mllp/main", Body: []byte(`{"resourceType":"Bundle"}`),
		Attrs: map[string]string{"type": "ADT^A01"}}
	if err := q.Put(ctx, it); err != nil {
		fmt.Println(err)
		return
	}

	// Transport side: lease, deliver, settle.
	got, ack, err := q.Get(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	deliver := func(*queue.Item) error { return queue.Permanent(errors.New("HTTP 422")) }
	if err := ack(ctx, deliver(got)); err != nil {
		fmt.Println(err)
		return
	}
	dls, _ := q.DeadLetters()
	fmt.Println(q.Len(), len(dls), dls[0].Reason)
	// Output: 0 1 HTTP 422
}
