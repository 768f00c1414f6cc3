package transport_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
	"github.com/ferry-health/ferry/transport/outbox"
)

// BenchmarkDispatchToOutbox measures the dispatcher draining a disk queue
// into the outbox sink (each item: lease, fsynced file write + directory
// fsync, ack), i.e. ferry's delivery rate without an exchange.
func BenchmarkDispatchToOutbox(b *testing.B) {
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			dir := b.TempDir()
			q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close(context.Background())
			body := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Repeat(`{"resource":{"resourceType":"Observation","status":"final"}},`, 25) + `{}]}`)
			for i := range b.N {
				if err := q.Put(context.Background(), &queue.Item{ID: fmt.Sprintf("item-%08d", i), Key: fmt.Sprint(i % 16), Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			d := transport.NewDispatcher(q, outbox.New(filepath.Join(dir, "outbox")), transport.DispatcherOptions{Workers: workers})
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			d.Start(context.Background())
			for d.Stats().Delivered < uint64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			d.Shutdown(context.Background())
		})
	}
}
