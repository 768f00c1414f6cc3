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

var _ queue.Queue = (*diskq.Queue)(nil)
var _ queue.StatsReporter = (*diskq.Queue)(nil)
