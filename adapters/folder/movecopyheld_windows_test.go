package folder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestMoveAcrossHeldOpenNotCopiedTwice: done_dir is another folder than
// the work folder's (another drive, a share), so a consumed file goes
// there as a copy, flushed, after which the original in processing/ is
// removed. A virus scanner or an indexer that opened the file in
// processing/ without FILE_SHARE_DELETE lets the copy be made but not the
// removal, and the move is tried again later: each try found its own
// earlier copy in done_dir, chose the next free name and copied again, so
// done_dir got lab.hl7, lab~2.hl7, lab~3.hl7 ... of one input, an archive
// the contractor reads as the lab having sent it that many times. A copy
// whose original cannot be removed is taken back, and done_dir has the
// file once.
func TestMoveAcrossHeldOpenNotCopiedTwice(t *testing.T) {
	dir, done := t.TempDir(), t.TempDir()
	cfg := testConfig(dir)
	cfg.DoneDir = done
	var (
		mu      sync.Mutex
		scanner *os.File
	)
	rec := &recorder{}
	e, logs := startLogged(t, cfg, rec, false)
	rec.mu.Lock()
	rec.fn = func(_ context.Context, n int, in adapters.Raw) error {
		if n != 0 {
			return nil
		}
		f, err := os.Open(filepath.Join(e.Paths().Processing, "lab.hl7")) // shares reading and writing, not deletion
		if err != nil {
			t.Error(err)
			return nil
		}
		mu.Lock()
		scanner = f
		mu.Unlock()
		return nil
	}
	rec.mu.Unlock()
	dropFile(t, dir, "lab.hl7", []byte("MSH|^~\\&|LAB\r"))
	waitFor(t, "three tries of the move", func() bool {
		e.Rescan()
		return strings.Count(logs.String(), "not moved out of processing/") >= 3
	})
	mu.Lock()
	scanner.Close()
	mu.Unlock()
	waitFor(t, "processing/ emptied", func() bool {
		e.Rescan()
		ents, err := os.ReadDir(e.Paths().Processing)
		return err == nil && len(ents) == 0
	})
	if got := filesUnder(t, done); len(got) != 1 {
		t.Errorf("done_dir holds %d files of one input, want 1: %v", len(got), got)
	}
	if n := rec.count(); n != 1 {
		t.Errorf("consumed %d times, want 1", n)
	}
}
