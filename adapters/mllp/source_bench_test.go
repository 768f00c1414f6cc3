package mllp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/adapters/mllp/mllpbench"
)

// fsyncStore stands in for the queue: one file per message, written and
// fsynced before Consume returns, so the ACK waits for the disk as it does
// in the gateway. Set FERRY_BENCH_DIR to measure a particular disk (the
// default temporary directory may be a RAM disk where fsync is free).
type fsyncStore struct {
	dir string
	n   atomic.Int64
}

func (s *fsyncStore) Consume(_ context.Context, in adapters.Raw) error {
	name := filepath.Join(s.dir, fmt.Sprintf("%012d.hl7", s.n.Add(1)))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if _, err := f.Write(in.Body); err != nil {
		f.Close()
		return fmt.Errorf("store: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store: %w", err)
	}
	return f.Close()
}

// BenchmarkSource measures the listener end to end over loopback TCP with
// the mllpbench sender: each connection sends a message and waits for its
// ACK. "nostore" ACKs straight away; "fsync" writes and fsyncs each message
// first. Compare msg/s, not ns/op.
func BenchmarkSource(b *testing.B) {
	for _, store := range []string{"nostore", "fsync"} {
		for _, conns := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/conns=%d", store, conns), func(b *testing.B) {
				var next adapters.Consumer = adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil })
				if store == "fsync" {
					dir := os.Getenv("FERRY_BENCH_DIR")
					if dir == "" {
						dir = b.TempDir()
					} else {
						var err error
						if dir, err = os.MkdirTemp(dir, "mllpbench"); err != nil {
							b.Fatal(err)
						}
						b.Cleanup(func() { os.RemoveAll(dir) })
					}
					next = &fsyncStore{dir: dir}
				}
				src, err := mllp.New(adapters.Settings{ID: "mllp/bench"}, mllp.Config{Listen: "127.0.0.1:0"}, next)
				if err != nil {
					b.Fatal(err)
				}
				if err := src.Start(context.Background(), nil); err != nil {
					b.Fatal(err)
				}
				defer src.Shutdown(context.Background())
				per := (b.N + conns - 1) / conns
				b.ResetTimer()
				res, err := mllpbench.Run(context.Background(), mllpbench.Config{Addr: src.Addr().String(), Conns: conns, Messages: per})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if res.Accepted() != conns*per {
					b.Fatalf("accepted %d of %d: %+v", res.Accepted(), conns*per, res)
				}
				b.ReportMetric(res.Rate(), "msg/s")
				b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
			})
		}
	}
}
