package diskq

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// Bodies too large to hold in memory (a 200 MB fax bundle) are not copied
// into the log: the producer streams them into a spill file from
// CreateBody and puts the item with Item.BodyFile. The PUT record then
// refers to the file (recPutFile), so the log stays small and neither Put
// nor Get ever holds the body.
//
//	<dir>/bodies/b-<ulid>             one file per spilled body
//	<dead>/<seq hex>-<id>.body        the body of a spilled dead letter
//
// Durability follows the log's: Put fsyncs the file and the bodies
// directory before its record is written, so a stored item's body is on
// disk whenever its record is. The file is removed only after the ACK
// record that settles the item is synced; a crash before that removal (or
// between CreateBody and Put) leaves a file no record refers to, and Open
// deletes such orphans.

const bodiesDirName = "bodies"

// SpillBytes is the body size above which producers should spill to a file
// (CreateBody) rather than pass Body: larger bodies would cost their size
// in memory at least twice (the producer's buffer and the record).
const SpillBytes = 1 << 20

// validBodyName accepts the names CreateBody makes, so that a damaged or
// forged record cannot point outside the bodies directory.
func validBodyName(name string) bool {
	if !strings.HasPrefix(name, "b-") || len(name) > 64 {
		return false
	}
	for i := 2; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return len(name) > 2
}

// CreateBody returns a new, empty body file in the queue's bodies
// directory (a *BodyFile). The caller writes the body into it, closes it
// and passes its Name as Item.BodyFile to Put, which takes the file over.
// With Options.Key set the writer seals what is written, so no plaintext
// reaches the disk. A file never put is deleted by the next Open; callers
// that give up should remove it themselves.
func (q *Queue) CreateBody() (queue.BodyWriter, error) {
	f, err := q.createBodyFile()
	if err != nil {
		return nil, err
	}
	b, err := newBodyFile(f, q.opts.Key)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create queue body file: %w", err)
	}
	return b, nil
}

// createBodyFile creates a new, empty file in the bodies directory.
func (q *Queue) createBodyFile() (*os.File, error) {
	if q.isClosed() {
		return nil, queue.ErrClosed
	}
	f, err := os.OpenFile(filepath.Join(q.bodiesDir(), "b-"+q.ids.next()), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create queue body file: %w", noSpace(err))
	}
	return f, nil
}

func (q *Queue) bodiesDir() string { return filepath.Join(q.dir, bodiesDirName) }

// adoptBody checks that path is a body file of this queue and makes it
// durable: the file's data and its directory entry are fsynced. It
// returns the file's name, its size on disk for the record, and whether
// it is sealed. With a key, the file must open as item id's body: a
// plaintext file (not written through CreateBody) is replaced by a copy
// sealed for id, and so is a file CreateBody sealed for the ID its name
// gives when the caller set another ID.
func (q *Queue) adoptBody(path, id string) (string, int64, bool, error) {
	name := filepath.Base(path)
	if filepath.Clean(filepath.Dir(path)) != filepath.Clean(q.bodiesDir()) || !validBodyName(name) {
		return "", 0, false, fmt.Errorf("body file %q was not made by CreateBody", path)
	}
	key := q.opts.Key
	sealed, err := fileSealed(path)
	if err == nil && key != nil {
		var from io.ReadCloser
		switch {
		case !sealed:
			from, err = openRead(path)
		case bodyID(path) != id && verifyBody(key, path, id) != nil:
			// Not already sealed for id (as Retry's link of a dead
			// letter's body is): sealed by CreateBody for its name.
			from, err = openFile(key, path, true, bodyID(path))
		}
		if from != nil {
			var f *os.File
			if f, err = q.createBodyFile(); err == nil {
				f.Close()
				os.Remove(f.Name())
				if err = sealFrom(key, bufio.NewReaderSize(from, seal.ChunkSize), f.Name(), bodyAAD(id)); err == nil {
					os.Remove(path)
					path, name, sealed = f.Name(), filepath.Base(f.Name()), true
				}
			}
			from.Close()
		}
	}
	if err == nil {
		err = durable.SyncFile(path)
	}
	var st os.FileInfo
	if err == nil {
		st, err = os.Stat(path)
	}
	if err == nil {
		err = durable.SyncDir(q.bodiesDir())
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("body file %s: %w", name, err)
	}
	return name, st.Size(), sealed, nil
}

// verifyBody opens the sealed body file at path as item id's and checks
// its first chunk: a key problem, damage, or a file sealed for another
// item shows here, before anything of it is delivered.
func verifyBody(key *seal.Key, path, id string) error {
	rc, err := openFile(key, path, true, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	var b [1]byte
	if _, err := rc.Read(b[:]); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// openBody makes the item's body streamable from its file, after checking
// that the file is there with the recorded size (and, when sealed, that
// the key fits); a missing or resized file is reported as corrupt (the
// item cannot be delivered as stored). Size is the plaintext size.
func (q *Queue) openBody(it *queue.Item, name string, fsize int64, sealed bool) error {
	path := filepath.Join(q.bodiesDir(), name)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: body file %s is missing", errCorrupt, name)
	}
	if err != nil {
		return fmt.Errorf("body file %s: %w", name, err)
	}
	if st.Size() != fsize {
		return fmt.Errorf("%w: body file %s has %d bytes, want %d", errCorrupt, name, st.Size(), fsize)
	}
	size := fsize
	if sealed {
		// The header's length depends on the stream version: files
		// sealed by earlier releases have shorter ones.
		head, err := fileHead(path)
		if err != nil {
			return fmt.Errorf("body file %s: %w", name, err)
		}
		var ok bool
		if size, ok = seal.PlainSize(head, fsize); !ok {
			return fmt.Errorf("%w: body file %s: %d bytes is no sealed stream", errCorrupt, name, fsize)
		}
		// Tell a key problem, damage or a body file that is not this
		// item's (swapped with another item's) now, not mid-delivery.
		if err := verifyBody(q.opts.Key, path, it.ID); err != nil {
			if errors.Is(err, errCorrupt) {
				return fmt.Errorf("%w: body file %s does not open as item %s's body (damaged, altered, or another item's file put in its place)", errCorrupt, name, it.ID)
			}
			return fmt.Errorf("body file %s: %w", name, err)
		}
	}
	key, id := q.opts.Key, it.ID
	it.Size = size
	it.Open = func() (io.ReadCloser, error) {
		rc, err := openFile(key, path, sealed, id)
		if err != nil {
			return nil, damaged(fmt.Errorf("open queue item %s body: %w", id, err))
		}
		if sealed {
			return &damagedBody{ReadCloser: rc, id: id, name: name}, nil
		}
		return rc, nil
	}
	return nil
}

// damagedBody reads a sealed body file whose start Get verified (see
// openBody): a chunk further on that does not verify (a bad sector, a
// byte changed) is damage no later attempt gets past, so it fails the
// read as permanent (queue.Permanent), naming the item and its file: the
// dispatcher dead-letters the item, which the ack marks corrupt, rather
// than retrying it as if the exchange were down, its patient's later
// items waiting behind it until exchange.retry.max_age.
type damagedBody struct {
	io.ReadCloser
	id, name string
}

func (b *damagedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = damaged(fmt.Errorf("queue item %s: body file %s: %w", b.id, b.name, err))
	}
	return n, err
}

// damaged marks err permanent when it is damage (errCorrupt).
func damaged(err error) error {
	if errors.Is(err, errCorrupt) && !queue.IsPermanent(err) {
		return queue.Permanent(err)
	}
	return err
}

// removeOrphanBodies deletes body files that no unsettled item refers to:
// files whose item was settled just before a crash, and spill files whose
// Put never happened. It runs in Open, before any CreateBody. A file that
// cannot be removed (on Windows, one another program has open: a backup
// agent, a virus scanner) is left for the next start with a warning: it
// holds nothing the queue needs, so it must not keep the queue from
// opening.
func (q *Queue) removeOrphanBodies() error {
	dir := q.bodiesDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list body files: %w", err)
	}
	if len(ents) == 0 {
		return nil
	}
	used := make(map[string]bool)
	for _, m := range q.items {
		if f := m.file(); f != "" {
			used[f] = true
		}
	}
	removed := 0
	for _, e := range ents {
		if used[e.Name()] || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			q.log.Warn("queue orphan body file not removed; it is tried again at the next start",
				"file", e.Name(), "reason", err.Error())
			continue
		}
		removed++
	}
	if removed > 0 {
		q.log.Info("queue orphan body files removed", "files", removed)
		return durable.SyncDir(dir)
	}
	return nil
}

// linkOrCopy makes dst a durable copy of the already durable file src: a
// hard link when both are on one file system, else a streamed copy that is
// fsynced. dst is replaced if it exists; the caller syncs dst's directory.
func linkOrCopy(src, dst string) error {
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return durable.CopyFile(src, dst, 0o600)
}
