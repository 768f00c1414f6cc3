package folder

import (
	"fmt"
	"io"
	"io/fs"
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

// fileReader is a claimed file as the engine reads it: an *os.File, or
// in tests one that fails as a share does.
type fileReader interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
	Stat() (fs.FileInfo, error)
}

// claimedFile is a claimed file opened for reading, by the engine and by
// the consumer (Raw.Open). Every error reading it, but the end of the
// file, is an *adapters.ReadError, so that a converter reading it tells
// a failure of the medium from a fault of the content. It reads at an
// offset and has a Stat, as PDFs, TIFFs and ZIP archives are read in
// place.
type claimedFile struct{ f fileReader }

func (c *claimedFile) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	return n, asReadError(err)
}

func (c *claimedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.f.ReadAt(p, off)
	return n, asReadError(err)
}

func (c *claimedFile) Seek(off int64, whence int) (int64, error) {
	n, err := c.f.Seek(off, whence)
	return n, asReadError(err)
}

func (c *claimedFile) Stat() (fs.FileInfo, error) {
	info, err := c.f.Stat()
	return info, asReadError(err)
}

func (c *claimedFile) Close() error { return c.f.Close() }

// asReadError marks err as a failure to read; io.EOF stays itself.
func asReadError(err error) error {
	if err == nil || err == io.EOF || adapters.IsReadError(err) {
		return err
	}
	return &adapters.ReadError{Err: err}
}

// openClaimed opens the claimed file name in processing/ for reading.
func (e *Engine) openClaimed(name string) (*claimedFile, error) {
	f, err := openRegular(e.proc, name)
	if err != nil {
		return nil, asReadError(err)
	}
	if e.testHookOpen != nil {
		return &claimedFile{e.testHookOpen(f)}, nil
	}
	return &claimedFile{f}, nil
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

var _ fileReader = (*os.File)(nil)
