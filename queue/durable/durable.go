// Package durable writes files so that a crash or power cut leaves either
// the old content or all of the new, never a torn file: the data goes to a
// temporary file beside the destination, which is fsynced, renamed over the
// destination, and then the directory is fsynced so that the rename itself
// survives (the pattern of NATS' writeAtomically). Every component that
// acknowledges something only after it is on disk (queue, dead letters,
// outbox, quarantine, folder moves, certificates, config) writes through
// here, so the rules live in one place.
package durable

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// tempMark sits between the destination's name and the random suffix of a
// temporary file. The leading dot of the temporary name keeps folder
// watchers and globbing readers (*.json) away from it.
const tempMark = ".tmp-"

// IsTemp reports whether a directory entry's name is a temporary file of
// this package, left behind when a write was interrupted by a crash. A
// component that owns its directory may remove such files when it opens it.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMark)
}

// Pending is a file being written under a temporary name in the directory
// of its destination. Nothing is visible at the destination until Commit;
// Abort (safe to defer, a no-op after Commit) removes the temporary file.
type Pending struct {
	f    *os.File
	path string
	done bool
	// tick is when the file was created, on the clock of ticks: a
	// Group's sync that failed later may have been of its pages.
	tick uint64
}

// ticks orders the creation of Pending files and the failures of Group
// syncs (fsSyncer.failed).
var ticks atomic.Uint64

// Create starts a durable write of path. The temporary file gets exactly
// perm, whatever the umask, because files such as private keys must never
// be readable by others even for a moment. A missing directory is reported
// with an error that matches fs.ErrNotExist.
func Create(path string, perm os.FileMode) (*Pending, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tempMark+"*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	p := &Pending{f: f, path: path, tick: ticks.Add(1)}
	if err := f.Chmod(perm); err != nil {
		p.Abort()
		return nil, fmt.Errorf("set mode of %s: %w", f.Name(), err)
	}
	return p, nil
}

// Name is the temporary file's path, for a caller that must adjust it
// (ownership, say) before Commit.
func (p *Pending) Name() string { return p.f.Name() }

// Write appends b to the temporary file.
func (p *Pending) Write(b []byte) (int, error) { return p.f.Write(b) }

// ReadFrom copies r into the temporary file; it lets io.Copy use the
// operating system's copy paths for a large body.
func (p *Pending) ReadFrom(r io.Reader) (int64, error) { return p.f.ReadFrom(r) }

// Commit fsyncs the temporary file, renames it over the destination and
// fsyncs the directory. When it returns nil the new content is durable.
// On an error before the rename the destination is untouched and the
// temporary file is removed.
func (p *Pending) Commit() error {
	return p.commit(p.f.Sync, func() error { return SyncDir(filepath.Dir(p.path)) })
}

// commit makes the content durable with syncData (the data and the new
// inode, before the rename can expose them), renames the temporary file
// over the destination, and makes the rename durable with syncDir.
// Pending.Commit syncs the file and its directory; Group.Commit shares
// one file-system sync with concurrent commits for each.
func (p *Pending) commit(syncData, syncDir func() error) error {
	if p.done {
		return errors.New("durable: commit after commit or abort")
	}
	tmp := p.f.Name()
	if err := syncData(); err != nil {
		p.Abort()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	p.done = true
	if err := p.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := rename(tmp, p.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename to %s: %w", p.path, err)
	}
	return syncDir()
}

// Abort discards the temporary file. It does nothing after Commit, so
// `defer p.Abort()` is the usual way to clean up on every error path.
func (p *Pending) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	p.f.Close()
	if err := os.Remove(p.f.Name()); err != nil {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return nil
}

// WriteFile replaces path with data atomically and durably (see the
// package comment), with mode perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	p, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer p.Abort()
	if _, err := p.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", p.Name(), err)
	}
	return p.Commit()
}

// WriteFrom replaces path with everything r yields, streaming it, so that a
// large body is never held in memory. It returns the number of bytes
// written. If r fails, path keeps its old content.
func WriteFrom(path string, r io.Reader, perm os.FileMode) (int64, error) {
	p, err := Create(path, perm)
	if err != nil {
		return 0, err
	}
	defer p.Abort()
	n, err := io.Copy(p, r)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", p.Name(), err)
	}
	return n, p.Commit()
}

// CopyFile replaces dst with a copy of src, atomically and durably (for a
// move across volumes, or a second durable home for a file).
func CopyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer in.Close()
	if _, err := WriteFrom(dst, in, perm); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// SyncFile fsyncs an existing file's data, for a file that was written by
// other means (a spill file) before a record refers to it. The file is
// opened read-write because some systems (Windows) flush only a writable
// handle.
func SyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s for fsync: %w", path, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}

// MkdirAll creates dir and any missing parents, like os.MkdirAll, and
// fsyncs the parent of every directory it created, so that a folder made
// at first start (the data folder, the queue's, the quarantine's) is still
// there after a power cut together with the fsynced files inside it: a
// file's fsync makes its data durable, not the directory entries on the
// path to it.
func MkdirAll(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	var created []string
	for p := dir; ; {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			break // let os.MkdirAll say what is wrong
		}
		created = append(created, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	// Outermost first: each new directory's entry is made durable in its
	// parent, which is itself durable by then.
	for i := len(created) - 1; i >= 0; i-- {
		if err := SyncDir(filepath.Dir(created[i])); err != nil {
			return err
		}
	}
	return nil
}
