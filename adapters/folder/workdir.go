package folder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferry-health/ferry/queue/durable"
)

// makeWorkDir creates a work folder that lies outside the watched folder
// (work_dir, or kind hylafax's default beside the recvq). Its parent is
// often not the service account's (/var/spool/hylafax), so a refusal says
// how to create it.
func (e *Engine) makeWorkDir() error {
	work := e.paths.Work
	err := os.MkdirAll(work, 0o700)
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
	f, err := os.CreateTemp(e.cfg.Path, ".ferry-probe-*")
	if err != nil {
		return nil
	}
	name := f.Name()
	f.Close()
	dst := filepath.Join(e.paths.Processing, filepath.Base(name))
	err = os.Rename(name, dst)
	if err == nil {
		_ = os.Remove(dst)
		return nil
	}
	_ = os.Remove(name)
	var le *os.LinkError
	if errors.As(err, &le) && isCrossDevice(le.Err) {
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
	legacy := filepath.Join(e.cfg.Path, ".ferry")
	if filepath.Clean(legacy) == filepath.Clean(e.paths.Work) {
		return
	}
	moved, left := 0, 0
	for _, sub := range []struct{ from, to string }{{"processing", e.paths.Processing}, {"failed", e.paths.Failed}} {
		dir := filepath.Join(legacy, sub.from)
		if !realDir(legacy) || !realDir(dir) {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			e.log.Warn("folder old work folder unreadable", "folder", e.cfg.Name, "dir", dir, "reason", ErrorClass(err))
			continue
		}
		n := 0
		for _, de := range entries {
			if !de.Type().IsRegular() {
				continue
			}
			dst := filepath.Join(sub.to, de.Name())
			if exists(dst) {
				left++
				continue
			}
			if err := moveFile(filepath.Join(dir, de.Name()), dst); err != nil {
				left++
				continue
			}
			n++
		}
		if n > 0 {
			_ = durable.SyncDir(sub.to)
			_ = durable.SyncDir(dir)
		}
		moved += n
	}
	if moved > 0 {
		e.log.Info("folder moved claimed and failed files out of the old work folder", "folder", e.cfg.Name, "from", legacy, "to", e.paths.Work, "files", moved)
	}
	if left > 0 {
		e.log.Warn("folder files left in the old work folder; move them by hand", "folder", e.cfg.Name, "dir", legacy, "files", left)
	}
}

// realDir reports whether path is a folder and not a symbolic link.
func realDir(path string) bool {
	info, err := os.Lstat(path)
	return err == nil && info.IsDir() && info.Mode()&fs.ModeSymlink == 0
}
