package diskq

import (
	"os"
	"sync/atomic"
	"time"
)

// Holding the processor through a commit's disk calls (Linux, direct
// writes). Go makes a system call in one of two ways. The ordinary way
// tells the scheduler first, so that a call that blocks gives up its P
// (the right to run Go code): after about 20 µs the runtime's monitor
// hands the P to another thread, and when the call returns the goroutine
// has to win a P back, from the global run queue if every P is busy. A
// raw call keeps its P and tells the scheduler nothing.
//
// A commit's direct write and its fdatasync block for 50-300 µs each.
// Under many MLLP connections every P is busy converting, so each such
// call cost a hand-over, a wake-up of another thread and, on return, a
// wait in the run queue while the producers of the batch (and the disk)
// sat idle. Made raw, the writer and the syncer keep their Ps, and the
// gateway runs one P more than the machine has CPUs (cmd/ferry) so that
// the converters keep every CPU while one of the two is in the kernel.
// On the reference machine (2 vCPUs, KVM, virtio disk, ext4) 16
// connections were faster in 9 of 10 alternated rounds, by up to 11 %
// (one round 1 % behind), with larger batches (BENCHMARKS.md, MLLP
// ingest, session 28); a lone connection, whose commits run inline on
// its own goroutine, did not change (ahead in 5 of 8 rounds).
//
// The cost is the reason Go's rule is that only calls that do not block
// are made raw: a P held in the kernel cannot stop for the garbage
// collector, so every goroutine waits at the collector's stop-the-world
// points until the call returns, which is harmless for a call of
// 100 µs and not for a disk that stalls for seconds. So a call that takes
// longer than rawSlow turns raw calls off for a while: a second, doubled
// at each slow call after it up to rawBackoffMax, and back to a second
// after a fast one. A machine that is only busy for a moment loses the
// raw calls for that moment; the queue of a slow or failing disk soon
// makes ordinary calls nearly all the time, as it did before.
const (
	rawSlow       = 5 * time.Millisecond
	rawBackoffMin = time.Second
	rawBackoffMax = 10 * time.Minute
)

// rawGate decides whether a queue's commit path makes its disk calls raw.
// The writer and the syncer (or an inline Put) share it.
type rawGate struct {
	off     atomic.Bool  // never raw: buffered writes (Options.BufferedWrites, other systems, file systems without direct writes)
	until   atomic.Int64 // UnixNano before which calls are ordinary
	backoff atomic.Int64 // the last turn-off's length; 0 after a fast call
}

// raw reports whether the next disk call of the commit path may be raw.
func (g *rawGate) raw() bool {
	return g != nil && !g.off.Load() && time.Now().UnixNano() >= g.until.Load()
}

// took records how long a disk call of the commit path took.
func (g *rawGate) took(d time.Duration) {
	if g == nil {
		return
	}
	if d <= rawSlow {
		g.backoff.Store(0)
		return
	}
	b := min(max(2*time.Duration(g.backoff.Load()), rawBackoffMin), rawBackoffMax)
	g.backoff.Store(int64(b))
	g.until.Store(time.Now().Add(b).UnixNano())
}

// syncSegment is the commit's fdatasync of a segment: raw when the gate
// allows it (see above), ordinary otherwise.
func (q *Queue) syncSegment(f *os.File) error {
	if !q.gate.raw() {
		return datasync(f)
	}
	start := time.Now()
	err := rawDatasync(f)
	q.gate.took(time.Since(start))
	return err
}
