package diskq

import (
	"fmt"

	"github.com/ferry-health/ferry/queue"
)

// Extent is a segment file and how much of it holds the log: the newest
// segment is followed by pre-zeroed space (segment.prezero) that is not
// part of it.
type Extent struct {
	Path string
	Size int64
}

// Freeze holds the log still while fn runs, for a backup of a running
// gateway (`ferry backup` over the ops API): fn can take a copy of the
// queue's directory (hard links, say) that is what a crash at this moment
// would leave, and no more.
//
// Freeze takes the writer's lock, so no record is written until fn
// returns (Puts wait, and are answered after), and waits for the batches
// already written to be synced and published, so that every Put answered
// so far is in the extents and no sync, body removal or segment removal
// runs meanwhile. fn gets the segments' extents, oldest first; a body
// file, dead letter or settled segment not yet removed that fn finds
// beside them is consistent with that log as it would be after a crash
// (Open matches them to it).
//
// Keep fn short: producers wait for it (a hard link per file, not a copy
// of the data). Freeze fails on a closed queue, and on one stopped by a
// failed sync, whose log's tail is unknown.
func (q *Queue) Freeze(fn func(extents []Extent) error) error {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	q.pending.Wait()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return queue.ErrClosed
	}
	if q.failed != nil {
		err := q.failed
		q.mu.Unlock()
		return fmt.Errorf("queue %s is stopped: %w", q.dir, err)
	}
	ext := make([]Extent, 0, len(q.segs))
	for _, s := range q.segs {
		ext = append(ext, Extent{Path: s.path, Size: s.size})
	}
	q.mu.Unlock()
	return fn(ext)
}
