package folder

import (
	"fmt"
	"os"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// ReadRetryFor is how long a claimed file that cannot be read is tried
// again, with backoff, before it goes to failed/ with the read error as
// its reason: an hour, and at least readTries tries. A failure to read
// (EIO, ESTALE: the SMB or NFS share the folder is on dropped, or its
// server restarted) is no fault of the content, and the file waits in
// processing/ meanwhile; one that still cannot be read after that (a bad
// sector, a file the share will not give back) would otherwise wait
// there for ever, unseen.
const ReadRetryFor = time.Hour

// readTries is the fewest tries before a file that cannot be read goes
// to failed/, however short the backoff.
const readTries = 5

// openClaimed opens the claimed file name in processing/ for reading,
// by the engine and by the consumer (Raw.Open). Every error opening or
// reading it, but the end of the file, is an *adapters.ReadError, so
// that a converter reading it tells a failure of the medium from a
// fault of the content.
func (e *Engine) openClaimed(name string) (adapters.File, error) {
	f, err := openRegular(e.proc, name)
	if err != nil {
		return nil, &adapters.ReadError{Err: err}
	}
	if e.testHookOpen != nil {
		return adapters.ReadErrorsOf(e.testHookOpen(f)), nil
	}
	return adapters.ReadErrorsOf(f), nil
}

// readFailed keeps a claimed file that could not be read (err, an
// *adapters.ReadError) for another try with backoff, or, once it could
// not be read for readLimit and readTries tries, moves it to failed/
// with the error as its reason.
func (e *Engine) readFailed(name string, sidecars []string, sum []byte, size int64, err error) {
	r := e.retry[name]
	now := time.Now()
	if r.readSince.IsZero() {
		r.readSince = now
	}
	r.readFails++
	e.retry[name] = r
	if r.readFails < readTries || now.Sub(r.readSince) < e.readLimit {
		e.backoff(name, sum, err)
		return
	}
	if size == 0 {
		if info, serr := e.proc.root.Lstat(e.proc.join(name)); serr == nil {
			size = info.Size()
		}
	}
	e.fail(name, sidecars, sum, size, queue.Permanent(fmt.Errorf("the file could not be read for %s (%d tries; the share it is on, or the disk, failed), the last time: %w",
		now.Sub(r.readSince).Round(time.Second), r.readFails, err)))
}

// readOK notes that a try of name failed for another reason than
// reading it (the queue full), so that the read failures readFailed
// counts are those in a row.
func (e *Engine) readOK(name string) {
	if r, ok := e.retry[name]; ok && r.readFails > 0 {
		r.readFails, r.readSince = 0, time.Time{}
		e.retry[name] = r
	}
}

var _ adapters.File = (*os.File)(nil)
