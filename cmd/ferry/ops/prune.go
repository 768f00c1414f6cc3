package ops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ferry-health/ferry/adapters/folder"
)

// PruneDatedDirs removes the YYYY-MM-DD folders directly under root (the
// folder sources' done/ archive) whose date is before the date of cutoff,
// and returns how many it removed (folder.PruneDatedDirs: anything else
// is left alone, a missing root is not an error, and the errors name the
// dated folder, not the patient's file in it).
func PruneDatedDirs(root string, cutoff time.Time) (int, error) {
	return folder.PruneDatedDirs(root, cutoff)
}

// PruneOldFiles removes the delivered bundle files directly in dir (the
// outbox: <item id>.json, the id a ULID as ferry writes it) that were
// last modified before cutoff. Temporary files of writes in progress and
// anything that is not a bundle file ferry wrote (the reading program's
// own *.json: a cursor, a list of what it took) are left alone. It ends
// at the next file once ctx ends.
func PruneOldFiles(ctx context.Context, dir string, cutoff time.Time) (int, error) {
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
		if err := ctx.Err(); err != nil {
			return removed, errors.Join(append(errs, fmt.Errorf("prune %s: stopped: %w", dir, err))...)
		}
		if !e.Type().IsRegular() || !bundleFile(e.Name()) {
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

// bundleFile reports whether name is one the outbox writes: an item id,
// which is a ULID in upper case, and ".json".
func bundleFile(name string) bool {
	id, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return false
	}
	u, err := ulid.ParseStrict(id)
	return err == nil && u.String() == id
}
