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
	// Oldest is when the oldest unsettled item was put; zero when empty,
	// and then left out of the JSON rather than written as year 1.
	Oldest time.Time `json:",omitzero"`
	// DeadLetters is the number of items in the dead-letter store.
	DeadLetters int
	// Corrupt counts records found damaged and skipped since open.
	Corrupt int
	// WriteErrors counts writes to the log that failed since open (a full
	// disk, mostly): their Puts failed and the queue went on.
	WriteErrors int64 `json:",omitempty"`
	// LastWriteError is the newest of those errors (file names and the OS
	// error: no item contents), and LastWriteErrorAt when it happened.
	LastWriteError   string    `json:",omitempty"`
	LastWriteErrorAt time.Time `json:",omitzero"`
	// Full says which limit (queue.max_items or queue.max_bytes) refused
	// the last Put, empty once a Put is admitted again or deliveries have
	// made room for the one refused; FullRefusals counts
	// Puts refused for either since open (MLLP answered AR, folders waited).
	Full         string `json:",omitempty"`
	FullRefusals int64  `json:",omitempty"`
	// Stopped is why the queue stopped taking items for good (a failed
	// fsync); empty while it works. Only a restart recovers.
	Stopped string `json:",omitempty"`
}

// StatsReporter is implemented by queues that can report Stats.
type StatsReporter interface {
	Stats() Stats
}
