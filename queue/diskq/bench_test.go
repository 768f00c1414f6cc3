package diskq_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// The benchmarks use b.TempDir(), i.e. the real disk with real fsyncs;
// run them with TMPDIR on the disk the gateway will use.

var benchBody = bytes.Repeat([]byte(`{"resourceType":"Bundle"},`), 40) // ~1 KB

func benchOpen(b *testing.B) *diskq.Queue { return benchOpenKey(b, nil) }

func benchOpenKey(b *testing.B, key *seal.Key) *diskq.Queue {
	q, err := diskq.Open(b.TempDir(), diskq.Options{Key: key})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Close(context.Background()) })
	return q
}

// BenchmarkPut measures fsynced Puts of ~1 KB items from 1 and from 16
// concurrent producers (16 MLLP connections); group commit is what makes
// the second one fast. key=sealed encrypts every body (Options.Key).
func BenchmarkPut(b *testing.B) {
	key, err := seal.NewKey(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		producers int
		key       *seal.Key
	}{{"producers=1", 1, nil}, {"producers=16", 16, nil}, {"producers=1/key=sealed", 1, key}, {"producers=16/key=sealed", 16, key}} {
		producers := c.producers
		b.Run(c.name, func(b *testing.B) {
			q := benchOpenKey(b, c.key)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.SetBytes(int64(len(benchBody)))
			b.ResetTimer()
			for p := range producers {
				wg.Go(func() {
					key := fmt.Sprintf("conn-%d", p)
					for next.Add(1) <= int64(b.N) {
						if err := q.Put(ctx, &queue.Item{Key: key, Body: benchBody}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
			b.ReportMetric(float64(b.N)/float64(diskq.Commits(q)), "puts/fsync")
		})
	}
}

// BenchmarkGetAck measures Get followed by ack(nil) from 1 and 4 consumers
// on a pre-filled queue.
func BenchmarkGetAck(b *testing.B) {
	for _, consumers := range []int{1, 4} {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) {
			q := benchOpen(b)
			ctx := context.Background()
			var fill sync.WaitGroup
			var next atomic.Int64
			for p := range 16 {
				fill.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if err := q.Put(ctx, &queue.Item{Key: fmt.Sprintf("k%d", p), Body: benchBody}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			fill.Wait()
			next.Store(0)
			var wg sync.WaitGroup
			b.ResetTimer()
			for range consumers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						_, ack, err := q.Get(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						if err := ack(ctx, nil); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := q.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
		})
	}
}

// BenchmarkHeapPerItem reports what the in-memory index costs per queued
// item (live heap after a GC, divided by the items held): a backlog during
// an outage is held this way. Keys repeat (4,000 patients), as they do.
//
//	go test ./queue/diskq -run '^$' -bench HeapPerItem -benchtime 32000x
func BenchmarkHeapPerItem(b *testing.B) {
	q := benchOpen(b)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range b.N {
		it := &queue.Item{Key: fmt.Sprintf("%064x", i%4000), Source: "mllp/bench", Body: benchBody,
			Attrs: map[string]string{"type": "ADT^A01", "format": "hl7v2"}}
		if err := q.Put(ctx, it); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/item")
	b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/float64(b.N), "objects/item")
}
