package pipeline

import "sync/atomic"

// Stats counts what the pipeline did, for the status page and /metrics.
type Stats struct {
	Queued      atomic.Int64
	Duplicates  atomic.Int64
	Quarantined atomic.Int64
	// Held counts units kept back by the disclosure policy (stored, not queued).
	Held atomic.Int64
}
