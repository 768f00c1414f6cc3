package diskq

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ferry-health/ferry/queue/seal"
)

// relocateOldest copies the few unsettled items left in the oldest segment
// to the newest one, so that the oldest segment (and the settled ones
// after it) can be deleted. Without it one item that keeps failing with a
// retryable error would pin every segment written after it, and the disk
// would fill although the queue holds almost nothing.
//
// It runs in the writer after a rotation; an error leaves the items where
// they were (only disk use depends on it), except that a failed sync stops
// the queue. The copy is a PUT record with the same seq; replay keeps the
// newest PUT of a seq. An item leased while the copy is made stays where
// it is (its reader may be using the old file), and the old segment then
// waits for a later rotation.
func (q *Queue) relocateOldest() error {
	q.mu.Lock()
	if len(q.segs) < 3 {
		q.mu.Unlock()
		return nil
	}
	old, bound := q.segs[0], q.segs[1].firstSeq
	var move []*meta
	var bytes int64
	for seq := q.lowSeq; seq < bound; seq++ {
		m := q.items[seq]
		if m == nil || m.seg != old {
			continue
		}
		if m.leased {
			q.mu.Unlock()
			return nil
		}
		move = append(move, m)
		bytes += m.size
	}
	if len(move) == 0 || bytes > q.opts.SegmentBytes/4 {
		q.mu.Unlock()
		return nil
	}
	attempts := make([]int, len(move))
	for i, m := range move {
		attempts[i] = m.attempts
	}
	// A delayed item's durable not-before time is in a NACK record, maybe
	// in the segment that goes: it follows the copy (see releaseUntil).
	due := map[*meta]int64{}
	for _, e := range q.later {
		if e.durable && e.m.delayed && e.m.seg == old {
			due[e.m] = e.due.UnixNano()
		}
	}
	q.mu.Unlock()

	// Reading is safe: old stays alive while move's items are live in it.
	buf := make([]byte, 0, bytes)
	offs, sizes := make([]int64, len(move)), make([]int64, len(move))
	cur := q.cur
	for i, m := range move {
		rec := make([]byte, m.size)
		if _, err := old.f.ReadAt(rec, m.off); err != nil {
			return fmt.Errorf("relocate from %s: %w", filepath.Base(old.path), err)
		}
		if parseHeader(rec) != len(rec) || checkRecord(rec) != nil || !isPut(rec) || recSeq(rec) != m.seq {
			// Leave a damaged record where it is; Get reports it.
			return nil
		}
		binary.LittleEndian.PutUint32(rec[recHeaderLen+16:], uint32(attempts[i]))
		if q.opts.Key != nil && recType(rec) == recPut {
			// Stored before the queue had a key: the copy is sealed, so
			// that no patient's bundle is written anew in clear.
			it, seq, _, _, err := decodePut(rec)
			if err != nil {
				return nil
			}
			sealed := encodePutHead(it, "", 0, true, len(it.Body)+seal.Overhead)
			sealed = q.opts.Key.Seal(sealed, it.Body, []byte(it.ID))
			if len(sealed) > maxRecordLen {
				return nil
			}
			setSeq(sealed, seq)
			rec = sealed
		}
		sealRecord(rec)
		sizes[i] = int64(len(rec))
		offs[i] = cur.wend + int64(len(buf))
		buf = append(buf, rec...)
		if at, ok := due[m]; ok {
			buf = append(buf, encodeNack(m.seq, attempts[i], at, time.Now().UnixNano())...)
		}
	}
	if _, err := cur.f.WriteAt(buf, cur.wend); err != nil {
		// A full disk: the copies are cut off again and the items
		// stay where they are, as when nothing was tried.
		err = fmt.Errorf("relocate into %s: %w", filepath.Base(cur.path), noSpace(err))
		if cerr := cur.cutTail(); cerr != nil {
			q.stop(fmt.Errorf("%w, and then: %w", err, cerr))
		}
		return err
	}
	if err := datasync(cur.f); err != nil {
		err = fmt.Errorf("relocate into %s: %w", filepath.Base(cur.path), err)
		q.stop(err)
		return err
	}

	cur.wend += int64(len(buf))
	q.mu.Lock()
	cur.size += int64(len(buf))
	moved := 0
	for i, m := range move {
		if q.items[m.seq] != m || m.leased {
			// Settled (its ACK record follows the copy in the log) or
			// leased meanwhile (the copy wins on replay; the live
			// original keeps old until the item is settled).
			continue
		}
		m.seg, m.off = cur, offs[i]
		// A copy sealed on the way is longer by the seal's overhead.
		q.liveBytes += sizes[i] - m.size
		m.size = sizes[i]
		old.live--
		cur.live++
		moved++
	}
	q.mu.Unlock()
	q.log.Debug("queue items relocated", "from", filepath.Base(old.path), "items", moved)
	q.deleteSettledSegments()
	return nil
}
