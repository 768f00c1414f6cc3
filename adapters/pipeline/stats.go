package pipeline

import (
	"sync/atomic"

	"github.com/ferry-health/ferry/queue/latency"
)

// Stats counts what the pipeline did, for the status page and /metrics.
type Stats struct {
	Queued      atomic.Int64
	Duplicates  atomic.Int64
	Quarantined atomic.Int64
	// Held counts units kept back by the disclosure policy (stored, not queued).
	Held atomic.Int64
	// Unconverted counts the entries of stored documents that went only
	// inside the attached document, not as resources (Unit.Unconverted).
	Unconverted atomic.Int64
	// Retied counts the patients of stored messages that named an
	// identifier an earlier merge retired and were tied to its survivor.
	Retied atomic.Int64
	// convert times each input's conversion, by format (the converters'
	// keys, fixed at New, so the map is only read afterwards).
	convert map[string]*latency.Histogram
}

// ConvertLatency returns how long conversions took, by input format: the
// part of an MLLP ACK's time (or a file's claim-to-done time) that is the
// conversion's, not the disk's.
func (s *Stats) ConvertLatency() map[string]latency.Snapshot {
	out := make(map[string]latency.Snapshot, len(s.convert))
	for f, h := range s.convert {
		out[f] = h.Snapshot()
	}
	return out
}
