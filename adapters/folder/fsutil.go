package folder

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// place is a folder the engine writes to, reached through an os.Root that
// Start opened: every create, rename and delete goes through the Root,
// never through a path resolved again later, so that a writer of the
// watched folder who renames .ferry away and puts a symbolic link in its
// place redirects nothing (the Root holds the folder itself, and refuses
// links out of it).
type place struct {
	root *os.Root
	dir  string // the folder inside root: "." for the root itself
}

func (p place) join(name string) string { return filepath.Join(p.dir, name) }

// sub is the folder name below p.
func (p place) sub(name string) place { return place{root: p.root, dir: p.join(name)} }

// moveIn moves src (a name in from) to dst (a name in to), durably once
// the caller has fsynced both folders. In one Root it is a rename; across
// two (a done_dir or failed_dir override) it is a rename between the two
// open folders where the system has one (renameat), and on another volume,
// or without one, a copy that is fsynced (file and folder) before the
// original is removed.
func moveIn(from place, src string, to place, dst string) error {
	if from.root == to.root {
		if err := from.root.Rename(from.join(src), to.join(dst)); err != nil {
			return fmt.Errorf("move %s: %w", src, err)
		}
		return nil
	}
	err := renameAcross(from, src, to, dst)
	if err == nil {
		return nil
	}
	if !isCrossDevice(err) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("move %s: %w", src, err)
	}
	if err := copyIn(from, src, to, dst); err != nil {
		return fmt.Errorf("move %s across volumes: %w", src, err)
	}
	if err := from.root.Remove(from.join(src)); err != nil {
		// The original stays (on Windows another process has it open
		// without FILE_SHARE_DELETE: a virus scanner), and the move is
		// tried again: the copy is taken back, or that try would find
		// it, choose the next free name and copy the file a second time.
		if rerr := to.root.Remove(to.join(dst)); rerr == nil {
			_ = syncDirIn(to)
		}
		return fmt.Errorf("move %s across volumes: remove original: %w", src, err)
	}
	return nil
}

// copyIn copies src in from to dst in to: written under a temporary
// name, fsynced, renamed into place and the folder fsynced.
func copyIn(from place, src string, to place, dst string) error {
	in, err := openRegular(from, src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeIn(to, dst, 0o600, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// errNotRegular refuses an entry that is not a regular file: a named pipe
// (FIFO), a socket, a device or a symbolic link. None is ever an input,
// and opening one can block (a pipe without a writer) or follow the link.
var errNotRegular = errors.New("not a regular file")

// openRegular opens name in p for reading if, and only if, it is a
// regular file. It checks the entry before opening it, opens it without
// blocking (O_NONBLOCK where the system has it, so that a named pipe
// swapped in between the check and the open returns at once instead of
// waiting for a writer, which would stop the whole folder), and checks
// what it opened is the regular file it looked at.
func openRegular(p place, name string) (*os.File, error) {
	before, err := p.root.Lstat(p.join(name))
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: %w", name, errNotRegular)
	}
	f, err := p.root.OpenFile(p.join(name), os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() || !os.SameFile(before, info) {
		f.Close()
		return nil, fmt.Errorf("open %s: replaced while opened: %w", name, errNotRegular)
	}
	return f, nil
}

// writeFileIn writes data to name in p durably (a whole file or none).
func writeFileIn(p place, name string, data []byte, perm os.FileMode) error {
	return writeIn(p, name, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func writeIn(p place, name string, perm os.FileMode, fill func(io.Writer) error) error {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := p.join("." + name + ".tmp-" + hex.EncodeToString(rnd[:]))
	f, err := p.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.root.Rename(tmp, p.join(name))
	}
	if err != nil {
		_ = p.root.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return syncDirIn(p)
}

// syncDirIn fsyncs the folder p, so that files created, renamed or
// removed in it survive a power cut. File systems that cannot sync a
// folder (some FUSE and network mounts answer EINVAL), and Windows, which
// has no such call, are accepted, as durable.SyncDir does.
func syncDirIn(p place) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := p.root.Open(p.dir)
	if err != nil {
		return fmt.Errorf("open folder for fsync: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && !isInvalid(err) {
		return fmt.Errorf("fsync folder: %w", err)
	}
	return nil
}

// testHookReadDir, when set (tests only), is called with every folder
// readDirIn lists.
var testHookReadDir atomic.Pointer[func(place)]

// readDirIn lists the folder p.
func readDirIn(p place) ([]fs.DirEntry, error) {
	if h := testHookReadDir.Load(); h != nil {
		(*h)(p)
	}
	d, err := p.root.Open(p.dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// uniqueName returns name, or name with "~N" before its extension, such that
// neither it nor any of its companions (suffixes appended to the stem, like
// sidecar extensions, or to the name, like ".error.txt") exists in p.
// Exports often reuse names (export.xml every night), and done/ must keep
// every copy.
//
// Every name it makes, with its companions and the temporary name writeIn
// gives each of them, fits maxNameBytes: a name near the limit (a fax named
// after the patient and the sender) has its stem shortened, at a character
// boundary, else "~2" or ".error.txt" made a name the file system refuses,
// and the file could never be archived. The .error.txt of a failed file
// says which name it is stored as.
func uniqueName(p place, name string, stemSuffixes, nameSuffixes []string) string {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	extra := len(ext)
	for _, s := range stemSuffixes {
		extra = max(extra, len(s))
	}
	for _, s := range nameSuffixes {
		extra = max(extra, len(ext)+len(s))
	}
	for n := 1; ; n++ {
		mark := ""
		if n > 1 {
			mark = "~" + strconv.Itoa(n)
		}
		cstem := shortenTo(stem, maxNameBytes-tempNameExtra-extra-len(mark)) + mark
		cand := cstem + ext
		if existsIn(p, cand) {
			continue
		}
		taken := false
		for _, s := range stemSuffixes {
			if existsIn(p, cstem+s) {
				taken = true
				break
			}
		}
		for _, s := range nameSuffixes {
			if existsIn(p, cand+s) {
				taken = true
				break
			}
		}
		if !taken {
			return cand
		}
	}
}

// archiveLocks holds a lock for each archive folder (done/ or done_dir,
// failed/ or failed_dir) by its path: two folders may name one done_dir
// or failed_dir, and an engine that chose a free name there (uniqueName)
// and moved its file in while another did the same with a file of that
// name had one replace the other, a file not delivered among them.
var archiveLocks sync.Map // cleaned path (lower case on Windows) → *sync.Mutex

// lockArchive locks the archive folder at path, between choosing a name
// in it and moving the file in, and returns the unlock.
func lockArchive(path string) (unlock func()) {
	key := filepath.Clean(path)
	if runtime.GOOS == "windows" {
		key = strings.ToLower(key)
	}
	m, _ := archiveLocks.LoadOrStore(key, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// archiveHook runs testHookArchive, if set.
func (e *Engine) archiveHook(stage string) {
	if e.testHookArchive != nil {
		e.testHookArchive(stage)
	}
}

// maxNameBytes is the longest file name the file systems ferry runs on
// take (NAME_MAX of ext4, XFS, APFS; NTFS counts 255 UTF-16 units, more).
const maxNameBytes = 255

// tempNameExtra is what writeIn's temporary name adds to a name: a dot
// before it, ".tmp-" and 12 hex digits after it.
const tempNameExtra = 1 + len(".tmp-") + 12

// shortenTo returns s cut to at most n bytes at a UTF-8 character
// boundary (at least one character is kept).
func shortenTo(s string, n int) string {
	n = max(n, 1)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if n == 0 {
		_, n = utf8.DecodeRuneInString(s)
	}
	return s[:n]
}

func existsIn(p place, name string) bool {
	_, err := p.root.Lstat(p.join(name))
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// ownerOnly narrows name's permissions (in p) to perm when group or
// others have any. Archived inputs keep the mode their writer gave them
// (a fax spool's 0644) through the rename; in done/ and failed/ they are
// ferry's, and hold PHI. It fails where ferry does not own the file,
// which the caller may ignore: the folder around it is owner-only too. On
// Windows only the read-only bit exists: there it does nothing (the ACLs
// of the folder decide).
func ownerOnly(p place, name string, perm os.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	info, err := p.root.Stat(p.join(name))
	if err != nil {
		return err
	}
	if info.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return p.root.Chmod(p.join(name), perm)
}

// mkdirAllIn creates rel and any missing parents inside root, like
// root.MkdirAll, and fsyncs the parent of every folder it created: a file
// moved into a new folder (the day's done/ folder, processing/ at first
// start) is made durable by fsyncing that folder, which is not enough if
// the folder's own entry is lost in a power cut.
func mkdirAllIn(root *os.Root, rel string, perm fs.FileMode) error {
	rel = filepath.Clean(rel)
	var created []string
	for p := rel; p != "." && p != string(filepath.Separator); p = filepath.Dir(p) {
		if _, err := root.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		created = append(created, p)
	}
	if err := root.MkdirAll(rel, perm); err != nil {
		return err
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := syncDirIn(place{root, filepath.Dir(created[i])}); err != nil {
			return err
		}
	}
	return nil
}
