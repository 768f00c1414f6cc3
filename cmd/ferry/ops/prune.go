package ops

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PruneDatedDirs removes the YYYY-MM-DD folders directly under root (the
// folder sources' done/ archive) whose date is before the date of cutoff,
// and returns how many it removed. Anything else under root is left
// alone, so a mistyped root cannot wipe an unrelated folder. A missing
// root is not an error: nothing has been archived yet. Its errors name the
// dated folder, not the file in it that could not be removed: archived
// inputs are often named after the patient, and the error is logged.
func PruneDatedDirs(root string, cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", root, err)
	}
	limit := cutoff.Format(time.DateOnly)
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		day, err := time.Parse(time.DateOnly, e.Name())
		if err != nil || day.Format(time.DateOnly) != e.Name() {
			continue
		}
		if e.Name() >= limit {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", filepath.Join(root, e.Name()), withoutPath(err)))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// PruneOldFiles removes the delivered bundle files (*.json) directly in
// dir that were last modified before cutoff. Temporary files of writes in
// progress and anything that is not a bundle file are left alone.
func PruneOldFiles(dir string, cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", dir, err)
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("prune %s: %w", filepath.Join(dir, e.Name()), err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// withoutPath drops the path from a file-system error, keeping the
// operation and the operating system's reason (still wrapped, for
// errors.Is).
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s a file in it: %w", pe.Op, pe.Err)
	}
	return err
}
