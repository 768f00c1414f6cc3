package queue

import "time"

// Stats is a point-in-time view of a queue for the status page and the
// `ferry status` command. It holds counts only, never item contents.
type Stats struct {
	// Depth is the number of items stored and not yet settled (Len).
	Depth int
	// Leased is how many of those are out for delivery right now.
	Leased int
	// Bytes is the stored size of the unsettled items.
	Bytes int64
	// DiskBytes is what the queue's files take on disk (at least Bytes).
	DiskBytes int64
	// Oldest is when the oldest unsettled item was put; zero when empty.
	Oldest time.Time
	// DeadLetters is the number of items in the dead-letter store.
	DeadLetters int
	// Corrupt counts records found damaged and skipped since open.
	Corrupt int
}

// StatsReporter is implemented by queues that can report Stats.
type StatsReporter interface {
	Stats() Stats
}
