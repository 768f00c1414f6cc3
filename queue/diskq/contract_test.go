package diskq_test

import (
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/queuetest"
)

func TestContract(t *testing.T) {
	queuetest.RunContract(t, func(t *testing.T, dir string) queue.Queue {
		q, err := diskq.Open(dir, diskq.Options{MaxBytes: queuetest.MaxBytes, SegmentBytes: 64 << 10})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return q
	})
}

// TestContractBuffered runs the contract with the log written through the
// page cache (the default where direct writes are not used).
func TestContractBuffered(t *testing.T) {
	queuetest.RunContract(t, func(t *testing.T, dir string) queue.Queue {
		q, err := diskq.Open(dir, diskq.Options{MaxBytes: queuetest.MaxBytes, SegmentBytes: 64 << 10, BufferedWrites: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return q
	})
}

var _ queue.Queue = (*diskq.Queue)(nil)
var _ queue.StatsReporter = (*diskq.Queue)(nil)
