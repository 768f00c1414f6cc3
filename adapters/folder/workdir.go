package folder

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-health/ferry/queue/durable"
)

// errWorkReplaced is the claim error while the work folder is not the one
// Start opened.
var errWorkReplaced = errors.New("the work folder was renamed or replaced while ferry runs; nothing is claimed until it is back")

// openFolders creates the work folders and opens the watched folder, the
// work folder and the done and failed folders as os.Roots (fsutil.go's
// place), which every later create, rename and delete goes through.
func (e *Engine) openFolders() error {
	path, work := e.cfg.Path, e.paths.Work
	inside := within(path, work) // the default Path/.ferry
	// Whoever may write to the watched folder could plant a symbolic link
	// where the work folder, a folder in it or the seen-set goes, and have
	// ferry truncate and write files only ferry may write, or move PHI
	// elsewhere. None has a use (done_dir and failed_dir move the archives
	// elsewhere), so none is followed. A work_dir outside the watched
	// folder is the operator's choice, and may itself be a link.
	for _, p := range []string{work, e.paths.Processing, e.paths.Done, e.paths.Failed, filepath.Join(work, "seen.sha256"), filepath.Join(work, "last.sha256")} {
		if (p == work && !inside) || (p != work && filepath.Dir(p) != work) {
			continue // a work_dir, done_dir or failed_dir of the operator's choosing
		}
		if info, err := os.Lstat(p); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("folder %q: %s is a symbolic link; ferry follows none in its work folder: remove it", e.cfg.Name, p)
		}
	}
	watch, err := e.openRoot(path)
	if err != nil {
		return fmt.Errorf("folder %q: %w", e.cfg.Name, err)
	}
	e.watched = watch
	if inside {
		rel, _ := filepath.Rel(path, work)
		if err := mkdirAllIn(watch, rel, 0o700); err != nil {
			return fmt.Errorf("folder %q: create work folder: %w", e.cfg.Name, err)
		}
		if info, err := watch.Lstat(rel); err != nil || !info.IsDir() {
			return fmt.Errorf("folder %q: %s is not a folder; ferry follows no symbolic link in its work folder: remove it", e.cfg.Name, work)
		}
		if e.work, err = watch.OpenRoot(rel); err != nil {
			return fmt.Errorf("folder %q: open work folder: %w", e.cfg.Name, err)
		}
		e.ownRoots = append(e.ownRoots, e.work)
		e.anchor, e.relWatch, e.relWork = watch, ".", rel
	} else {
		if err := e.makeWorkDir(); err != nil {
			return err
		}
		if e.work, err = e.openRoot(work); err != nil {
			return fmt.Errorf("folder %q: work_dir: %w", e.cfg.Name, err)
		}
		top := commonDir(path, work)
		if e.anchor, err = e.openRoot(top); err != nil {
			return fmt.Errorf("folder %q: work_dir: %w", e.cfg.Name, err)
		}
		e.relWatch, _ = filepath.Rel(top, path)
		e.relWork, _ = filepath.Rel(top, work)
	}
	if e.workInfo, err = e.work.Stat("."); err != nil {
		return fmt.Errorf("folder %q: work folder: %w", e.cfg.Name, err)
	}
	if e.proc, err = e.openPlace(e.paths.Processing, ""); err != nil {
		return err
	}
	if e.doneP, err = e.openPlace(e.paths.Done, "done_dir"); err != nil {
		return err
	}
	if e.failedP, err = e.openPlace(e.paths.Failed, "failed_dir"); err != nil {
		return err
	}
	// The work folders hold PHI (the claimed, archived and failed files):
	// owner only, also where an older ferry or a person made them wider.
	// done_dir and failed_dir overrides are the operator's folders and keep
	// their modes.
	for _, p := range []place{{e.work, "."}, e.proc, e.doneP, e.failedP} {
		if p.root == e.work {
			if err := ownerOnly(place{e.work, "."}, p.dir, 0o700); err != nil {
				e.log.Warn("folder work folder left readable by others", "folder", e.cfg.Name, "dir", filepath.Join(work, p.dir), "reason", ErrorClass(err))
			}
		}
	}
	if !inside {
		if err := e.checkSameVolume(); err != nil {
			return err
		}
		e.adoptLegacy()
	}
	return nil
}

func (e *Engine) openRoot(dir string) (*os.Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	e.ownRoots = append(e.ownRoots, r)
	return r, nil
}

// openPlace makes dir and returns it as a place: inside the work folder's
// Root when it lies there, else (a done_dir or failed_dir override) in a
// Root of its own.
func (e *Engine) openPlace(dir, field string) (place, error) {
	if within(e.paths.Work, dir) {
		rel, _ := filepath.Rel(e.paths.Work, dir)
		if err := mkdirAllIn(e.work, rel, 0o700); err != nil {
			return place{}, fmt.Errorf("folder %q: create work folder: %w", e.cfg.Name, err)
		}
		return place{e.work, rel}, nil
	}
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return place{}, fmt.Errorf("folder %q: %s: %w", e.cfg.Name, field, err)
	}
	r, err := e.openRoot(dir)
	if err != nil {
		return place{}, fmt.Errorf("folder %q: %s: %w", e.cfg.Name, field, err)
	}
	return place{r, "."}, nil
}

func (e *Engine) closeRoots() {
	for _, r := range e.ownRoots {
		r.Close()
	}
	e.ownRoots = nil
}

// workInPlace reports whether the watched folder and the work folder are
// still, inside the anchor, the folders Start opened. A writer of the
// watched folder may rename .ferry away and put a link or a folder of its
// own in its place; claims (renames through the anchor) would then follow
// it, so none is made, and the swap is logged once.
func (e *Engine) workInPlace() error {
	w, werr := e.anchor.Lstat(e.relWork)
	ok := werr == nil && w.Mode()&fs.ModeSymlink == 0 && os.SameFile(w, e.workInfo)
	if ok && e.relWatch != "." {
		wi, err := e.watched.Stat(".")
		wa, aerr := e.anchor.Lstat(e.relWatch)
		ok = err == nil && aerr == nil && wa.Mode()&fs.ModeSymlink == 0 && os.SameFile(wi, wa)
	}
	if ok {
		if e.swapTold {
			e.swapTold = false
			e.log.Info("folder work folder is back in place; claiming again", "folder", e.cfg.Name)
		}
		return nil
	}
	if !e.swapTold {
		e.swapTold = true
		e.log.Error("folder work folder was renamed or replaced while ferry runs (a symbolic link or another folder where it was); nothing is claimed until it is back, and no file goes anywhere else",
			"folder", e.cfg.Name, "work_dir", e.paths.Work)
	}
	return errWorkReplaced
}

// claimOne renames name from the watched folder into processing/,
// through the anchor, and proves the file arrived in the work folder
// Start opened. Were the work folder swapped between workInPlace and the
// rename, the file went where the swap points, which the anchor Root
// keeps inside itself (the watched folder, for the default .ferry).
func (e *Engine) claimOne(name string) error {
	before, err := e.watched.Lstat(name)
	if err != nil {
		return err
	}
	if !before.Mode().IsRegular() {
		return fmt.Errorf("claim %s: %w", name, errNotRegular)
	}
	if err := e.anchor.Rename(filepath.Join(e.relWatch, name), filepath.Join(e.relWork, e.proc.dir, name)); err != nil {
		return err
	}
	after, err := e.proc.root.Lstat(e.proc.join(name))
	if err == nil && !after.Mode().IsRegular() {
		// Swapped for a pipe, a link or a device between the check and
		// the rename: it goes back where it was, unopened, unless the
		// name is taken there again.
		if !existsIn(place{e.watched, "."}, name) {
			_ = e.anchor.Rename(filepath.Join(e.relWork, e.proc.dir, name), filepath.Join(e.relWatch, name))
		}
		return fmt.Errorf("claim %s: replaced while claimed: %w", name, errNotRegular)
	}
	if err != nil || !os.SameFile(before, after) {
		_ = e.workInPlace()
		return errWorkReplaced
	}
	return nil
}

// makeWorkDir creates a work folder that lies outside the watched folder
// (work_dir, or kind hylafax's default beside the recvq). Its parent is
// often not the service account's (/var/spool/hylafax), so a refusal says
// how to create it.
func (e *Engine) makeWorkDir() error {
	work := e.paths.Work
	err := durable.MkdirAll(work, 0o700)
	if err == nil {
		return nil
	}
	why := ""
	if e.cfg.WorkDir == "" {
		why = " (the default for kind hylafax: beside the recvq, not in it, because HylaFAX's faxcron deletes files under recvq after 7 days)"
	}
	return fmt.Errorf("folder %q: work_dir %s%s cannot be created: %w; create it for the service account, e.g. `sudo install -d -o ferry -g ferry -m 0700 %s`",
		e.cfg.Name, work, why, err, work)
}

// checkSameVolume proves that a file can be renamed from the watched
// folder into a work folder outside it, which every claim does. A
// different file system fails so, and so do two entries of a systemd
// unit's ReadWritePaths (each is a mount of its own, and Linux renames
// across none). When the folder cannot be written at all it cannot tell,
// and says nothing: the claims then fail and show as a stuck folder.
func (e *Engine) checkSameVolume() error {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := ".ferry-probe-" + hex.EncodeToString(rnd[:])
	f, err := e.watched.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil
	}
	f.Close()
	err = e.anchor.Rename(filepath.Join(e.relWatch, name), filepath.Join(e.relWork, e.proc.dir, name))
	if err == nil {
		_ = e.proc.root.Remove(e.proc.join(name))
		return nil
	}
	_ = e.watched.Remove(name)
	if isCrossDevice(err) {
		return fmt.Errorf("folder %q: work_dir %s is not on the same volume as path %s, and files are claimed by renaming them into it: "+
			"choose a work_dir on path's volume; under systemd, list one folder holding both in ReadWritePaths (such as %s), not each, since every entry is a mount of its own",
			e.cfg.Name, e.paths.Work, e.cfg.Path, commonDir(e.paths.Work, e.cfg.Path))
	}
	return nil
}

// commonDir is the deepest folder holding both a and b.
func commonDir(a, b string) string {
	d := filepath.Clean(a)
	for !within(d, b) {
		p := filepath.Dir(d)
		if p == d {
			break
		}
		d = p
	}
	return d
}

// adoptLegacy moves what an earlier ferry left in Path/.ferry's
// processing/ and failed/ into the work folder that replaced it (kind
// hylafax's default moved out of the recvq): claimed files would
// otherwise never be consumed, and faxcron would delete both after 7
// days. done/ (delivered faxes) and the old seen-set stay; a name taken in
// the new folder leaves that file where it is, with a warning.
func (e *Engine) adoptLegacy() {
	legacy := filepath.Join(e.relWatch, ".ferry")
	if !realDirIn(e.anchor, legacy) {
		return
	}
	moved, left := 0, 0
	for _, sub := range []struct {
		from string
		to   place
	}{{"processing", e.proc}, {"failed", e.failedP}} {
		from := place{e.anchor, filepath.Join(legacy, sub.from)}
		if !realDirIn(e.anchor, from.dir) {
			continue
		}
		to := sub.to
		if to.root == e.work {
			to = place{e.anchor, filepath.Join(e.relWork, to.dir)} // one Root: a rename
		}
		entries, err := readDirIn(from)
		if err != nil {
			e.log.Warn("folder old work folder unreadable", "folder", e.cfg.Name, "dir", filepath.Join(e.cfg.Path, ".ferry", sub.from), "reason", ErrorClass(err))
			continue
		}
		n := 0
		for _, de := range entries {
			if !de.Type().IsRegular() {
				continue
			}
			if existsIn(to, de.Name()) || moveIn(from, de.Name(), to, de.Name()) != nil {
				left++
				continue
			}
			n++
		}
		if n > 0 {
			_ = syncDirIn(to)
			_ = syncDirIn(from)
		}
		moved += n
	}
	if moved > 0 {
		e.log.Info("folder moved claimed and failed files out of the old work folder", "folder", e.cfg.Name, "from", filepath.Join(e.cfg.Path, ".ferry"), "to", e.paths.Work, "files", moved)
	}
	if left > 0 {
		e.log.Warn("folder files left in the old work folder; move them by hand", "folder", e.cfg.Name, "dir", filepath.Join(e.cfg.Path, ".ferry"), "files", left)
	}
}

// realDirIn reports whether name in r is a folder and not a symbolic link.
func realDirIn(r *os.Root, name string) bool {
	info, err := r.Lstat(name)
	return err == nil && info.IsDir() && info.Mode()&fs.ModeSymlink == 0
}

// followPath reports whether the folder at Path is the one the engine
// has open, reopening the folders when another has taken its place: a
// share mounted over its mount point after ferry started (the empty
// folder beneath it was opened), or an export job that removes its
// output folder and makes it again before each run. Files written to
// the folder at path were otherwise never seen, and nothing said so.
// While files claimed from the old folder still wait in its work folder
// (held, the default .ferry inside it), they are finished first; while
// no folder is at path, nothing new is taken. Both show as a folder
// whose files cannot be claimed.
func (e *Engine) followPath(held int) bool {
	at, err := os.Stat(e.cfg.Path)
	if err == nil {
		if cur, cerr := e.watched.Stat("."); cerr == nil && os.SameFile(at, cur) {
			return true
		}
	}
	switch {
	case err != nil:
		e.pathTrouble("folder not found at its path since ferry opened it (removed, renamed, or a share unmounted); nothing is taken until it is back",
			"gone: "+ErrorClass(err))
		return false
	case held > 0 && within(e.cfg.Path, e.paths.Work):
		e.pathTrouble("folder at its path is another than the one ferry opened (a share mounted over it, or the folder made again); ferry watches the new one once the files it took from the old one are settled",
			"replaced, files of the old folder in processing")
		return false
	}
	if err := e.reopen(); err != nil {
		e.pathTrouble("folder at its path is another than the one ferry opened (a share mounted over it, or the folder made again), and it cannot be opened; tried again at the next scan",
			"replaced, cannot open the new one: "+ErrorClass(err))
		return false
	}
	e.log.Warn("folder at its path was another than the one ferry had open (a share mounted over it, or the folder made again); ferry now watches the one there",
		"folder", e.cfg.Name, "path", e.cfg.Path, "work_dir", e.paths.Work)
	return true
}

// pathTrouble counts a pass that could not look at the folder at Path as
// a failed claim (the folder shows as stuck) and logs it at WARN when the
// episode starts and then every claimWarnEvery.
func (e *Engine) pathTrouble(msg, class string) {
	if e.claimTrouble(class) {
		e.log.Warn(msg, "folder", e.cfg.Name, "path", e.cfg.Path, "failed_attempts", e.trouble.attempts,
			"failing_since", e.trouble.since.UTC().Format(time.RFC3339))
	}
}

// reopen opens the folders again from their paths (openFolders), with
// the seen-set and the change events of the folder now at Path, and
// closes the old ones; on failure the old ones stay.
func (e *Engine) reopen() error {
	e.rootsMu.Lock()
	defer e.rootsMu.Unlock()
	watched, work, anchor, relWatch, relWork, workInfo := e.watched, e.work, e.anchor, e.relWatch, e.relWork, e.workInfo
	proc, doneP, failedP, roots := e.proc, e.doneP, e.failedP, e.ownRoots
	restore := func() {
		e.closeRoots()
		e.watched, e.work, e.anchor, e.relWatch, e.relWork, e.workInfo = watched, work, anchor, relWatch, relWork, workInfo
		e.proc, e.doneP, e.failedP, e.ownRoots = proc, doneP, failedP, roots
	}
	e.ownRoots = nil
	if err := e.openFolders(); err != nil {
		restore()
		return err
	}
	oldSeen := e.ownDedup
	if !os.SameFile(workInfo, e.workInfo) {
		lt, err := e.openLastTaken()
		if err != nil {
			restore()
			return err
		}
		if oldSeen != nil {
			sf, err := e.openSeen()
			if err != nil {
				lt.Close()
				restore()
				return err
			}
			e.ownDedup, e.dedup = sf, sf
			oldSeen.Close()
		}
		e.lastTaken.Close()
		e.lastTaken = lt
	}
	for _, r := range roots {
		r.Close()
	}
	if e.watcher != nil {
		_ = e.watcher.Remove(e.cfg.Path)
		if err := e.watcher.Add(e.cfg.Path); err != nil {
			e.log.Warn("folder events unavailable; polling only", "folder", e.cfg.Name, "err", err)
		}
	}
	e.seen, e.oddSeen, e.rankWait = map[string]observation{}, nil, map[string]time.Time{}
	_, _ = e.listClaimed() // the work folder may be another
	return nil
}

// openSeen opens the work folder's seen-set, seen.sha256.
func (e *Engine) openSeen() (*SeenFile, error) {
	f, err := e.work.OpenFile("seen.sha256", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("folder %q: open seen-set: %w", e.cfg.Name, err)
	}
	sf, err := newSeenFile(f, filepath.Join(e.paths.Work, "seen.sha256"))
	if err != nil {
		return nil, fmt.Errorf("folder %q: %w", e.cfg.Name, err)
	}
	return sf, nil
}

// openLastTaken opens the work folder's record of the last file taken
// under each name, last.sha256.
func (e *Engine) openLastTaken() (*LastTaken, error) {
	f, err := e.work.OpenFile("last.sha256", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("folder %q: open last-taken record: %w", e.cfg.Name, err)
	}
	lt, err := newLastTaken(f, filepath.Join(e.paths.Work, "last.sha256"))
	if err != nil {
		return nil, fmt.Errorf("folder %q: %w", e.cfg.Name, err)
	}
	return lt, nil
}
