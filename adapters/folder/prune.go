package folder

import (
	"errors"
	"fmt"
	"io/fs"
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
	entries, err := readDirIn(done)
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", e.paths.Done, withoutPath(err))
	}
	limit := cutoff.Format(time.DateOnly)
	removed := 0
	var errs []error
	for _, de := range entries {
		name := de.Name()
		if !de.IsDir() {
			continue
		}
		day, err := time.Parse(time.DateOnly, name)
		if err != nil || day.Format(time.DateOnly) != name || name >= limit {
			continue
		}
		if err := done.root.RemoveAll(done.join(name)); err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", filepath.Join(e.paths.Done, name), withoutPath(err)))
			continue
		}
		removed++
	}
	if removed > 0 {
		_ = syncDirIn(done)
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
