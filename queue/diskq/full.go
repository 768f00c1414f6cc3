package diskq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// This file is what the writer does when the disk is full (a clinic PC
// filling up with fax images or updates for a while): the queue goes on,
// refusing what it cannot store, and takes items again as soon as there is
// room, without a restart.
//
//   - Pre-zeroing (segment.prezero) is an optimisation. When it fails the
//     batch is still stored (its records landed in zeros written earlier,
//     or extend the file); the failure is logged once, and pre-zeroing is
//     tried again zeroRetry later.
//   - A failed record write (ENOSPC, EDQUOT, EFBIG, a short write) fails
//     its batch only: the segment is cut back to the end of its last
//     whole record and synced (cutTail), the batch's seqs go to the next
//     batch, and its Puts return the error, which errors.Is matches to
//     queue.ErrFull when the disk is full, so the source answers AR (the
//     sender resends) or leaves the file for a later try. ACK and NACK
//     records of the batch are written with the next one, or zeroRetry
//     later (retryWrite). Until a write works again, WriteFailing says
//     so (/readyz answers 503); with nothing to write, the writer
//     probes the disk every zeroRetry (probe), so that it stops saying
//     so once there is room even when no Put comes.
//   - A failed rotation (the next segment cannot be created) fails the
//     batch the same way; the next batch tries again.
//   - A failed fdatasync stops the queue for good (q.failed): after it the
//     kernel may have dropped the unwritten pages while marking them
//     clean ("fsyncgate"), so what is on disk is unknown until a restart
//     replays it. So does a failed cutTail. Stopped tells the owner, who
//     should exit so that the service manager restarts it.

// zeroRetry is how long the writer waits before it tries pre-zeroing
// again after a failure: one failing write a second costs nothing, and
// the fast path is back a second after the disk has room again.
const zeroRetry = time.Second

// syncError is a failed fdatasync (or a failed truncate-and-sync), after
// which the queue stops.
type syncError struct{ err error }

func (e *syncError) Error() string { return e.err.Error() }
func (e *syncError) Unwrap() error { return e.err }

// noSpaceError is a write that failed because the disk (or the user's
// quota, or the process's file size limit) has no room: errors.Is matches
// it to queue.ErrFull, and to the OS error it wraps.
type noSpaceError struct{ err error }

func (e *noSpaceError) Error() string        { return e.err.Error() }
func (e *noSpaceError) Unwrap() error        { return e.err }
func (e *noSpaceError) Is(target error) bool { return target == queue.ErrFull }

// noSpace marks err as a noSpaceError when isNoSpace says it is one.
func noSpace(err error) error {
	if err != nil && isNoSpace(err) {
		return &noSpaceError{err}
	}
	return err
}

// Stopped is closed when the queue has stopped for good after a failure
// it cannot recover from in process (a failed fdatasync): every Put fails
// from then on, and only a restart recovers, by replaying the log. A
// process should exit then, so that its service manager restarts it.
// Close does not close it.
func (q *Queue) Stopped() <-chan struct{} { return q.stopped }

// Err is why the queue stopped (see Stopped), or nil.
func (q *Queue) Err() error { return q.failedErr() }

// stop makes the queue fail every Put from now on with err (the first
// such error wins) and closes Stopped.
func (q *Queue) stop(err error) {
	q.mu.Lock()
	first := q.failed == nil
	if first {
		q.failed = err
		close(q.stopped)
	}
	q.mu.Unlock()
	if first {
		q.log.Error("queue stopped: puts fail until the process restarts, which recovers by replaying the log", "reason", err.Error())
	}
}

// writeFailed makes seg's tail clean after a record write failed (see
// cutTail) and returns the error for the batch's producers. A failed cut
// stops the queue. The caller holds wmu.
func (q *Queue) writeFailed(seg *segment, err error) error {
	err = fmt.Errorf("write queue segment %s: %w", filepath.Base(seg.path), noSpace(err))
	// Batches written before this one are below seg.wend and stay; the
	// wait only lets their syncs and answers finish first, so that the
	// truncate and its sync run alone and seg.size has caught up.
	q.pending.Wait()
	if q.failedErr() != nil {
		return err
	}
	if cerr := seg.cutTail(); cerr != nil {
		q.stop(fmt.Errorf("%w, and then: %w", err, cerr))
		return err
	}
	// The disk is full: pre-zeroing waits, appends extend the file.
	q.zeroHold = time.Now().Add(zeroRetry)
	return err
}

// reject answers a batch that was not stored with err. Its ACK and NACK
// records wait for the next batch (carry); its body files are removed,
// since no record names them. When the queue has stopped meanwhile, the
// batch is failed as finish does.
func (q *Queue) reject(batch []*writeReq, err error) {
	q.writeErrors.Add(1)
	q.mu.Lock()
	q.lastWrite, q.lastWAt = err, time.Now()
	if stopped := q.failed; stopped != nil {
		q.mu.Unlock()
		q.finish(batch, stopped)
		return
	}
	for _, r := range batch {
		if r.put != nil {
			q.reserved -= r.put.bytes()
			q.reservedN--
		}
	}
	q.mu.Unlock()
	if q.writeFails == 0 {
		q.log.Error("queue write failed; puts fail until one succeeds again", "reason", err.Error())
	}
	q.writeFails++
	q.writeFailing.Store(true)
	for _, r := range batch {
		switch {
		case r.put != nil:
			if f := r.put.file(); f != "" {
				if rerr := os.Remove(filepath.Join(q.bodiesDir(), f)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
					q.log.Warn("queue body file not removed", "file", f, "reason", rerr.Error())
				}
			}
		case len(r.rec) > 0:
			q.carry = append(q.carry, r)
			continue
		}
		if r.done != nil {
			r.done <- err
		}
	}
	q.retryWrite()
}

// retryWrite has the writer write again zeroRetry later, even if nothing
// else is written meanwhile: the settlements a failed batch left (carry),
// whose items' keys are held until the ACK records are synced (see
// keyState), or, with none, a probe of the disk (see probe). Waiting for
// the next Put would stop those patients' deliveries, and keep the queue
// failing (WriteFailing, /readyz 503) after the disk had room, for as
// long as no message comes in (a night, or a sender that waits for
// /readyz). A retry that fails again arms the next.
func (q *Queue) retryWrite() {
	if !q.retryArmed.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(zeroRetry, func() {
		q.retryArmed.Store(false)
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return
		}
		q.inflight.Add(1)
		q.mu.Unlock()
		q.reqs <- &writeReq{} // a barrier: the writer writes the carry before it
		q.inflight.Done()
	})
}

// probeMin and probeMax bound the zeros a probe writes: at least a block, at most
// a pre-zeroing chunk.
const (
	probeMin = 4 << 10
	probeMax = prezeroChunk
)

// probe writes zeros at seg's end, where the next record goes, as many as
// the write that failed had bytes (failedBytes), when no write has worked
// since and there is nothing else to write: the disk has room again when
// they are written, and the failed-write episode ends. The zeros are
// pre-zeroed space for the next records (zeroEnd), trimmed as such. A
// probe that fails arms the next. The caller holds wmu.
func (q *Queue) probe(seg *segment) {
	if q.failedErr() != nil {
		return
	}
	n := int64(min(max(q.failedBytes, probeMin), probeMax))
	if _, err := seg.f.WriteAt(zeroBlock[:n], seg.wend); err != nil {
		// A write cut short extends the file: trimmed with the rest.
		if st, serr := seg.f.Stat(); serr == nil {
			seg.zeroEnd = max(seg.zeroEnd, st.Size())
		}
		q.retryWrite()
		return
	}
	seg.zeroEnd = max(seg.zeroEnd, seg.wend+n)
	q.writeRecovered()
}

// writeRecovered ends a failed-write episode. The caller holds wmu.
func (q *Queue) writeRecovered() {
	q.log.Info("queue writes work again", "failed_writes", q.writeFails)
	q.writeFails = 0
	q.writeFailing.Store(false)
}

// prezero extends seg's pre-zeroed region after a batch was written (see
// segment.prezero). A failure is logged once and costs the batch nothing;
// it is tried again zeroRetry later. The caller holds wmu.
func (q *Queue) prezero(seg *segment) {
	if !q.zeroHold.IsZero() && time.Now().Before(q.zeroHold) {
		return
	}
	err := seg.prezero(seg.wend, q.opts.SegmentBytes+prezeroChunk)
	if err == nil {
		if !q.zeroHold.IsZero() {
			q.zeroHold = time.Time{}
			if q.zeroWarned {
				q.zeroWarned = false
				q.log.Info("queue pre-zeroing works again")
			}
		}
		return
	}
	q.zeroHold = time.Now().Add(zeroRetry)
	if !q.zeroWarned {
		q.zeroWarned = true
		q.log.Warn("queue segment not pre-zeroed (disk full?); items are still stored, commits may be slower", "reason", err.Error())
	}
}

// flushCarry tries once more, when the writer stops, to write settlements
// a failed batch left (see reject). What still fails is delivered again
// after the next Open.
func (q *Queue) flushCarry() {
	q.wmu.Lock()
	var w *written
	if len(q.carry) > 0 {
		if w = q.write(nil); w != nil {
			q.pending.Add(1)
			q.unsynced.Add(1)
		}
	}
	left := len(q.carry)
	q.carry = nil
	q.wmu.Unlock()
	if w != nil {
		q.syncq <- w
	}
	if left > 0 {
		q.log.Warn("queue settlements not written; those items are delivered again after the next start", "records", left)
	}
}
