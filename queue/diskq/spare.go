package diskq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/ferry-health/ferry/queue/durable"
)

// The spare segment: the next segment file, made ahead of time by a
// goroutine of its own and filled with written zeros to the size a
// segment reaches, so that the writer never writes zeros while producers
// wait on it.
//
// The writer keeps zeros ahead of the data in the newest segment (see
// segment.prezero): a commit's fdatasync then writes data blocks only,
// not the file's size and extent map. Written by the writer itself, the
// zeros cost a commit now and then a megabyte: the chunk's write, and
// the fdatasync that waits for the chunk's write-back, since it covers
// the whole file. On the reference machine that was the slowest 1 % of a
// lone connection's ACKs, about 1 ms each against 0.2-0.3 ms
// (BENCHMARKS.md, MLLP ingest, session 16). The spare moves that work off
// the commit path: it is zeroed and synced in another file, which no
// commit's fdatasync waits for, and a rotation only writes its header,
// renames it and syncs the directory, what creating a segment costs.
//
// The spare is made once the newest segment is half full. When no spare
// is ready at a rotation (the disk is full, or segments fill faster than
// the spare is zeroed), the writer creates the segment and zeroes it as
// it goes, as it does for the newest segment found at Open. A spare left
// by a crash is removed at Open: its name is not a segment's, so replay
// never reads it, and it holds no record.
//
// A spare, once made, also keeps a segment's worth of disk set aside:
// when the disk fills, the next rotation still has a file to go to.

// spareName is the spare segment's file in the queue directory.
const spareName = "next.spare"

// spare is the state shared by the writer and the goroutine that
// prepares the spare (spareLoop).
type spare struct {
	path   string
	direct bool // write the zeros with O_DIRECT (as the log's writes are)

	mu     sync.Mutex
	state  spareState
	failed bool // the last preparation failed (logged once per episode)
	taken  int  // rotations into a spare

	wake chan struct{} // buffered 1: prepare a spare if there is none (askSpare)
	stop chan struct{}
	done chan struct{}
}

// spareState says who may touch the spare's file: only the goroutine
// while it prepares it, only the writer while it takes it.
type spareState int

const (
	spareNone      spareState = iota // no file: the goroutine may prepare one
	sparePreparing                   // the goroutine is writing it
	spareReady                       // whole, zeroed and synced
	spareTaken                       // the writer is making it a segment
)

// startSpare removes a spare left by an earlier run and starts the
// goroutine that prepares the next one.
func (q *Queue) startSpare() {
	sp := &spare{
		path:   filepath.Join(q.dir, spareName),
		direct: !q.opts.BufferedWrites && directSupported(q.dir),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if err := os.Remove(sp.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		q.log.Warn("queue spare segment left by an earlier run not removed", "reason", err.Error())
	}
	q.spare = sp
	if q.opts.NoSpare {
		close(sp.done)
		return
	}
	go q.spareLoop(sp)
	q.askSpare(q.cur)
}

// askSpare wakes the spare's goroutine once seg, the newest segment, is
// half full: the spare is made while the segment fills, not at every
// start of a gateway that takes weeks to fill one. The caller is the
// writer (or Open).
func (q *Queue) askSpare(seg *segment) {
	if seg.spareAsked || seg.wend < q.opts.SegmentBytes/2 {
		return
	}
	seg.spareAsked = true
	select {
	case q.spare.wake <- struct{}{}:
	default:
	}
}

// stopSpare stops the spare's goroutine and removes the spare, so that a
// stopped gateway does not keep its disk.
func (q *Queue) stopSpare() {
	sp := q.spare
	if sp == nil {
		return
	}
	if !q.opts.NoSpare {
		close(sp.stop)
	}
	<-sp.done
	os.Remove(sp.path)
}

// claim moves the spare from state from to state to, and reports whether
// it was in from.
func (sp *spare) claim(from, to spareState) bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.state != from {
		return false
	}
	sp.state = to
	return true
}

// spareReady reports whether a spare is waiting for the next rotation.
func (q *Queue) spareReady() bool {
	q.spare.mu.Lock()
	defer q.spare.mu.Unlock()
	return q.spare.state == spareReady
}

func (q *Queue) spareLoop(sp *spare) {
	defer close(sp.done)
	for {
		select {
		case <-sp.stop:
			return
		case <-sp.wake:
		}
		if !sp.claim(spareNone, sparePreparing) {
			continue
		}
		err := q.prepareSpare(sp)
		if errors.Is(err, errSpareStopped) {
			os.Remove(sp.path)
			return
		}
		sp.mu.Lock()
		warn, recovered := err != nil && !sp.failed, err == nil && sp.failed
		sp.failed = err != nil
		sp.state = spareNone
		if err == nil {
			sp.state = spareReady
		}
		sp.mu.Unlock()
		switch {
		case warn:
			// The next rotation creates its segment as it always could,
			// and wakes this loop to try again.
			os.Remove(sp.path)
			q.log.Warn("queue spare segment not prepared (disk full?); items are still stored, commits may be slower", "reason", err.Error())
		case err != nil:
			os.Remove(sp.path)
		case recovered:
			q.log.Info("queue spare segment prepared again")
		}
	}
}

var errSpareStopped = errors.New("queue closing")

// alignedZeros is a chunk of zeros aligned for direct writes.
var alignedZeros = sync.OnceValue(func() []byte { return alignedBuffer(prezeroChunk) })

// prepareSpare creates the spare and writes zeros to the size a segment
// reaches (SegmentBytes, and the chunk the writer may zero past it),
// then syncs it, so that appends into it change neither the file's size
// nor its extent map.
func (q *Queue) prepareSpare(sp *spare) error {
	f, err := os.OpenFile(sp.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", spareName, err)
	}
	defer f.Close()
	var dio *directFile
	if sp.direct {
		dio = openDirect(sp.path)
	}
	defer func() { dio.close() }()
	limit := q.opts.SegmentBytes + prezeroChunk
	for off := int64(0); off < limit; {
		select {
		case <-sp.stop:
			return errSpareStopped
		default:
		}
		n := min(prezeroChunk, limit-off)
		if dio != nil && n%directAlign == 0 {
			err = dio.pwrite(alignedZeros()[:n], off)
			if errors.Is(err, errDirect) {
				dio.close()
				dio = nil
				continue
			}
		} else {
			_, err = f.WriteAt(zeroBlock[:n], off)
			startWriteback(f, off, n)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", spareName, err)
		}
		off += n
	}
	if err := datasync(f); err != nil {
		return fmt.Errorf("sync %s: %w", spareName, err)
	}
	return nil
}

// takeSpare makes the spare segment idx, starting at firstSeq, when one
// is ready: it writes and syncs the header, renames the file and syncs
// the directory, as createSegment does for a new file. It returns nil
// when there is no spare or it could not be used (it is removed then).
// The next spare is asked for when the new segment is half full
// (askSpare). The caller is the writer, rotating.
func (q *Queue) takeSpare(idx, firstSeq uint64) *segment {
	sp := q.spare
	if !sp.claim(spareReady, spareTaken) {
		return nil
	}
	defer sp.claim(spareTaken, spareNone)
	seg, err := spareSegment(q.dir, sp.path, idx, firstSeq)
	if err != nil {
		os.Remove(sp.path)
		q.log.Warn("queue spare segment not used; the segment is created instead", "reason", err.Error())
		return nil
	}
	sp.mu.Lock()
	sp.taken++
	sp.mu.Unlock()
	return seg
}

// spareSegment turns the zeroed file at spare into segment idx.
func spareSegment(dir, spare string, idx, firstSeq uint64) (*segment, error) {
	f, err := os.OpenFile(spare, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt(segHeader(firstSeq), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write segment header into %s: %w", spareName, err)
	}
	// The rename is done with the file closed: Windows renames no open file.
	path := filepath.Join(dir, segName(idx))
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("segment %s already exists", segName(idx))
	}
	if err := os.Rename(spare, path); err != nil {
		return nil, err
	}
	// From here the file is the segment: a crash before the directory is
	// synced leaves it under either name, holding no record.
	if err := durable.SyncDir(dir); err != nil {
		os.Remove(path)
		return nil, err
	}
	if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
		os.Remove(path)
		return nil, err
	}
	return &segment{idx: idx, path: path, f: f, size: segHeaderLen, wend: segHeaderLen, zeroEnd: st.Size(), firstSeq: firstSeq}, nil
}
