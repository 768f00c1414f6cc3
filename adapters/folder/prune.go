package folder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ErrNotRunning is PruneDone's answer while the engine has not started
// (or has stopped): it holds no folder open to prune through.
var ErrNotRunning = errors.New("folder not running")

// PruneDone removes the dated folders (YYYY-MM-DD) of the done archive,
// done/ or done_dir, whose date is before the date of cutoff, and
// returns how many it removed. It prunes through the folder Start opened,
// as the engine moves files into it, never by its path: someone who may
// write the watched folder and swaps .ferry for a folder of their own,
// its done/ a link elsewhere, makes it remove nothing there. Anything
// but a dated folder is left alone. Its errors name the dated folder,
// not the file in it that could not be removed (archived inputs are
// often named after the patient). Safe to call beside the worker.
func (e *Engine) PruneDone(cutoff time.Time) (int, error) {
	e.mu.Lock()
	started := e.started // Start holds mu until its folders are open
	e.mu.Unlock()
	if !started {
		return 0, ErrNotRunning
	}
	e.rootsMu.Lock()
	defer e.rootsMu.Unlock()
	done := e.doneP
	if done.root == nil { // shut down
		return 0, ErrNotRunning
	}
	return pruneDatedIn(done, e.paths.Done, cutoff)
}

// PruneDatedDirs is PruneDone by path, for a folder no engine holds open
// (a folder source of a gateway that is not running, or one whose engine
// has not started): the dated folders directly under dir, before the date
// of cutoff. A missing dir is not an error: nothing has been archived yet.
func PruneDatedDirs(dir string, cutoff time.Time) (int, error) {
	r, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", dir, withoutPath(err))
	}
	defer r.Close()
	return pruneDatedIn(place{root: r, dir: "."}, dir, cutoff)
}

// pruneDatedIn removes the YYYY-MM-DD folders directly in p whose date is
// before the date of cutoff; anything else in p is left alone, so a
// mistyped folder cannot be wiped. name is p's path for the errors, which
// name the dated folder, not the file in it that could not be removed
// (archived inputs are often named after the patient, and the error is
// logged).
func pruneDatedIn(p place, name string, cutoff time.Time) (int, error) {
	entries, err := readDirIn(p)
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", name, withoutPath(err))
	}
	limit := cutoff.Format(time.DateOnly)
	removed := 0
	var errs []error
	for _, de := range entries {
		day := de.Name()
		if !de.IsDir() {
			continue
		}
		d, err := time.Parse(time.DateOnly, day)
		if err != nil || d.Format(time.DateOnly) != day || day >= limit {
			continue
		}
		if err := p.root.RemoveAll(p.join(day)); err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", filepath.Join(name, day), withoutPath(err)))
			continue
		}
		removed++
	}
	if removed > 0 {
		_ = syncDirIn(p)
	}
	return removed, errors.Join(errs...)
}

// withoutPath drops the path from a file-system error, keeping the
// operation and the operating system's reason (still wrapped).
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s a file in it: %w", pe.Op, pe.Err)
	}
	return err
}
