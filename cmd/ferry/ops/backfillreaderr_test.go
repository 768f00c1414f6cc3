package ops

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestBackfillReadErrorNotQuarantined: a file of an old export (on a
// share, often) whose reading failed while it was converted was
// quarantined and written into the journal as done, "a re-run would
// only quarantine it again", so the run said nothing could not be read
// and a re-run skipped it as already done, though it would have read.
// It is now one that could not be read: listed, not journaled, and fed
// by the next run. The read fails for real: the file is a folder by
// the time it is converted (os.File's read of a folder: EISDIR).
func TestBackfillReadErrorNotQuarantined(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a folder opened as a file reads differently on Windows")
	}
	exp := t.TempDir()
	copyFile(t, "../../../testdata/hl7v2/batch-two-messages.hl7", filepath.Join(exp, "1.hl7"))
	path := filepath.Join(exp, "1.hl7")
	r := newRig(t)
	formats := map[string]bool{"hl7v2": true}
	swap := adapters.ConsumerFunc(func(ctx context.Context, in adapters.Raw) error {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		defer func() {
			os.Remove(path)
			copyFile(t, "../../../testdata/hl7v2/batch-two-messages.hl7", path)
		}()
		return r.pipe.Consume(ctx, in)
	})
	res, err := Backfill(context.Background(), exp, swap, r.j, BackfillOptions{Formats: formats, MaxInMemory: 64})
	if err == nil || !strings.Contains(err.Error(), "1 file(s) could not be read") || len(res.Unreadable) != 1 || res.Quarantined != 0 {
		t.Fatalf("a file whose reading failed: %+v, %v; want it listed as unreadable, not quarantined", res, err)
	}
	if n := r.pipe.Stats().Quarantined.Load(); n != 0 {
		t.Errorf("quarantined %d", n)
	}
	res, err = Backfill(context.Background(), exp, r.pipe, r.j, BackfillOptions{Formats: formats, MaxInMemory: 64})
	if err != nil || res.Queued != 1 || res.AlreadyDone != 0 {
		t.Fatalf("run again: %+v, %v; want the file queued", res, err)
	}
}
