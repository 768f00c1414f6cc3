package ops

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/diskq"
)

// Thresholds of the flush probe. Every MLLP ACK waits for one flush, so its
// latency bounds a lone sender's rate; a local SSD flushes in well under a
// millisecond, a spinning disk in 5-15 ms, a network share in tens.
const (
	slowSync    = 10 * time.Millisecond
	suspectSync = 5 * time.Microsecond
)

// CheckDiskSync measures how long the disk under the data folder takes to
// make a small write durable (write + fdatasync, as the queue does before
// every acknowledgement) and says what that means: the most a single MLLP
// connection can be acknowledged per second, a warning when flushes are
// slow (a network share, a busy spinning disk), and a warning when they
// return so fast that nothing can have reached stable storage (a memory
// file system, or a disk or hypervisor cache that acknowledges flushes it
// does not make durable: acknowledged messages could then be lost in a
// power failure).
//
// The probe (diskq.ProbeFlush) commits SyncSamples pages the way the queue
// does (a direct write on Linux ext4 and XFS) into a scratch file it
// pre-fills and removes, so it measures the flush, not the allocation of
// blocks; running it beside the gateway adds that many small flushes to
// the disk's load.
func CheckDiskSync(cfg *config.Config, opts DoctorOptions) []Check {
	opts.defaults()
	dir := existingDir(cfg.DataDir)
	c := Check{Area: "disk", Name: "flush latency under " + dir}
	if MemoryFS(dir) {
		c.Level, c.Detail = Fail, "the folder is on a memory file system (tmpfs): a reboot loses every queued and acknowledged message; put data_dir on a disk"
		return []Check{c}
	}
	lat, direct, err := diskq.ProbeFlush(dir, opts.SyncSamples)
	if err != nil {
		c.Level, c.Detail = Warn, "cannot tell: "+err.Error()
		return []Check{c}
	}
	slices.Sort(lat)
	p50, p90 := lat[len(lat)/2], lat[len(lat)*9/10]
	how := "write"
	if direct {
		how = "direct write"
	}
	c.Detail = fmt.Sprintf("%s + fdatasync of %d KiB, as the queue commits: p50 %s, p90 %s (%d samples); one MLLP connection is acknowledged at most ~%d msg/s here",
		how, diskq.ProbeBlock>>10, roundLatency(p50), roundLatency(p90), len(lat), int(time.Second/max(p50, time.Microsecond)))
	switch {
	case p50 >= slowSync:
		c.Level = Warn
		c.Detail += "; slow: every ACK waits for this (a network share or a busy disk?): put data_dir on a local disk"
	case p50 < suspectSync:
		c.Level = Warn
		c.Detail += "; too fast to have reached stable storage: a memory file system, or a write cache that acknowledges flushes it has not made durable (acknowledged messages could be lost in a power failure)"
	}
	return []Check{c}
}

// roundLatency prints d with three significant digits at most.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	default:
		return d.Round(100 * time.Nanosecond)
	}
}

// existingDir is dir, or its nearest parent that exists (doctor may run
// before the gateway has created its folders).
func existingDir(dir string) string {
	dir = filepath.Clean(dir)
	for {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}
