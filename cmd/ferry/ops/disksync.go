package ops

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/durable"
)

// syncBlock is what each probe write puts on disk: one page, about what a
// converted HL7 v2 message's record takes in the queue.
const syncBlock = 4 << 10

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
// The probe writes SyncSamples pages into a scratch file it pre-fills and
// removes, so it measures the flush, not the allocation of blocks; running
// it beside the gateway adds that many small flushes to the disk's load.
func CheckDiskSync(cfg *config.Config, opts DoctorOptions) []Check {
	opts.defaults()
	dir := existingDir(cfg.DataDir)
	c := Check{Area: "disk", Name: "flush latency under " + dir}
	if MemoryFS(dir) {
		c.Level, c.Detail = Fail, "the folder is on a memory file system (tmpfs): a reboot loses every queued and acknowledged message; put data_dir on a disk"
		return []Check{c}
	}
	lat, err := probeSync(dir, opts.SyncSamples)
	if err != nil {
		c.Level, c.Detail = Warn, "cannot tell: "+err.Error()
		return []Check{c}
	}
	slices.Sort(lat)
	p50, p90 := lat[len(lat)/2], lat[len(lat)*9/10]
	c.Detail = fmt.Sprintf("write + fdatasync of %d KiB: p50 %s, p90 %s (%d samples); one MLLP connection is acknowledged at most ~%d msg/s here",
		syncBlock>>10, roundLatency(p50), roundLatency(p90), len(lat), int(time.Second/max(p50, time.Microsecond)))
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

// probeSync returns the latency of n write + fdatasync rounds of one page
// each, in a scratch file in dir whose pages are written and flushed first.
func probeSync(dir string, n int) ([]time.Duration, error) {
	f, err := os.CreateTemp(dir, ".ferry-doctor-sync-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	page := make([]byte, syncBlock)
	for i := range n {
		if _, err := f.WriteAt(page, int64(i)*syncBlock); err != nil {
			return nil, fmt.Errorf("prepare %s: %w", f.Name(), err)
		}
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", f.Name(), err)
	}
	for i := range page {
		page[i] = byte(i)
	}
	lat := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		if _, err := f.WriteAt(page, int64(i)*syncBlock); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.Name(), err)
		}
		if err := durable.Datasync(f); err != nil {
			return nil, fmt.Errorf("flush %s: %w", f.Name(), err)
		}
		lat = append(lat, time.Since(start))
	}
	return lat, nil
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
