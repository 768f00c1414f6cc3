package folder

import (
	"context"
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
// often named after the patient). Safe to call beside the worker. It
// works through a handle of its own on that folder, so Shutdown does not
// wait for it, and it ends at the next file once ctx ends or the engine
// stops (an error wrapping the context's), leaving the rest to the next
// pass.
func (e *Engine) PruneDone(ctx context.Context, cutoff time.Time) (int, error) {
	e.mu.Lock()
	started, running := e.started, e.runCtx // Start holds mu until its folders are open
	e.mu.Unlock()
	if !started {
		return 0, ErrNotRunning
	}
	e.rootsMu.Lock()
	done := e.doneP
	if done.root == nil { // shut down
		e.rootsMu.Unlock()
		return 0, ErrNotRunning
	}
	own, err := done.root.OpenRoot(done.dir)
	e.rootsMu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", e.paths.Done, withoutPath(err))
	}
	defer own.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(running, cancel)()
	return pruneDatedIn(ctx, place{root: own, dir: "."}, e.paths.Done, cutoff)
}

// PruneDatedDirs is PruneDone by path, for a folder no engine holds open
// (a folder source of a gateway that is not running, or one whose engine
// has not started): the dated folders directly under dir, before the date
// of cutoff. A missing dir is not an error: nothing has been archived yet.
func PruneDatedDirs(dir string, cutoff time.Time) (int, error) {
	return pruneDatedDirs(context.Background(), dir, cutoff)
}

func pruneDatedDirs(ctx context.Context, dir string, cutoff time.Time) (int, error) {
	r, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", dir, withoutPath(err))
	}
	defer r.Close()
	return pruneDatedIn(ctx, place{root: r, dir: "."}, dir, cutoff)
}

// PruneDoneOf is PruneDone for the folder c describes while no engine of
// it runs: the gateway's first retention pass, which runs as the
// scheduler starts, before the folders do, or a folder that could not
// start. Its done archive is opened as Start opens it: a done_dir is the
// operator's folder, which may be a link, but in the work folder (and the
// work folder in the watched one) no link is followed, where Start
// refuses one, so that someone who may write the watched folder and swaps
// .ferry (or its done/) for a link elsewhere while ferry is stopped has
// the next start remove nothing there. It ends at the next file once ctx
// ends, as PruneDone does.
func PruneDoneOf(ctx context.Context, c Config, cutoff time.Time) (int, error) {
	paths, err := c.ResolvePaths()
	if err != nil {
		return 0, err
	}
	if !within(paths.Work, paths.Done) || filepath.Clean(paths.Done) == filepath.Clean(paths.Work) {
		return pruneDatedDirs(ctx, paths.Done, cutoff)
	}
	path, err := filepath.Abs(c.Path)
	if err != nil {
		return 0, err
	}
	var work *os.Root
	if within(path, paths.Work) {
		watch, err := os.OpenRoot(path)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("prune %s: %w", paths.Done, withoutPath(err))
		}
		defer watch.Close()
		rel, _ := filepath.Rel(path, paths.Work)
		if work, err = openNoLink(watch, rel, paths.Work); work == nil {
			return 0, err
		}
	} else if work, err = os.OpenRoot(paths.Work); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("prune %s: %w", paths.Done, withoutPath(err))
	}
	defer work.Close()
	rel, _ := filepath.Rel(paths.Work, paths.Done)
	done, err := openNoLink(work, rel, paths.Done)
	if done == nil {
		return 0, err
	}
	done.Close()
	return pruneDatedIn(ctx, place{root: work, dir: rel}, paths.Done, cutoff)
}

// openNoLink opens the folder rel of r (named name in errors), refusing a
// symbolic link there as Start does. A folder not there is nil with no
// error: nothing has been archived in it.
func openNoLink(r *os.Root, rel, name string) (*os.Root, error) {
	fi, err := r.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("prune %s: %w", name, withoutPath(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("prune %s: it is a symbolic link; ferry follows none in its work folder: remove it", name)
	}
	d, err := r.OpenRoot(rel)
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", name, withoutPath(err))
	}
	return d, nil
}

// pruneDatedIn removes the YYYY-MM-DD folders directly in p whose date is
// before the date of cutoff; anything else in p is left alone, so a
// mistyped folder cannot be wiped. name is p's path for the errors, which
// name the dated folder, not the file in it that could not be removed
// (archived inputs are often named after the patient, and the error is
// logged). It ends at the next file once ctx ends.
func pruneDatedIn(ctx context.Context, p place, name string, cutoff time.Time) (int, error) {
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
		if err := removeTreeIn(ctx, p.root, p.join(day)); ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("prune %s: stopped: %w", name, ctx.Err()))
			break
		} else if err != nil {
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

// removeTreeIn removes name in r with all it holds, as r.RemoveAll does
// (a link is removed, never followed), one file at a time so that it
// ends at the next file once ctx ends; what it leaves, the next pass
// removes.
func removeTreeIn(ctx context.Context, r *os.Root, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := r.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		entries, err := readDirIn(place{root: r, dir: name})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		var first error // the others are removed still, as RemoveAll does
		for _, de := range entries {
			if err := removeTreeIn(ctx, r, filepath.Join(name, de.Name())); ctx.Err() != nil {
				return ctx.Err()
			} else if err != nil && first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
	}
	if err := r.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
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
