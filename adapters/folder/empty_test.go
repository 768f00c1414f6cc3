package folder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// withEmptyLimit shortens how long an empty input waits for content.
func withEmptyLimit(d time.Duration) Option { return func(e *Engine) { e.emptyLimit = d } }

// faxLike refuses what the fax adapter refuses: an empty file is neither
// a TIFF nor a PDF.
func faxLike() *recorder {
	return &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		if in.Size == 0 {
			return queue.Permanent(os.ErrInvalid)
		}
		return nil
	}}
}

// TestEmptyFileWaitsForContent: a fax server creates the file when the
// call starts and writes nothing until later (longer than settle). The
// empty file must stay in the inbox, counted as empty, and be taken
// normally once it has content, not go to failed/ while the server
// still writes it.
func TestEmptyFileWaitsForContent(t *testing.T) {
	dir := t.TempDir()
	rec := faxLike()
	e := startEngine(t, testConfig(dir), rec, withEmptyLimit(time.Hour))
	path := filepath.Join(dir, "fax001.tif")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A file dropped after the empty one is settled and taken: the empty
	// one has been unchanged for longer than settle by then.
	dropFile(t, dir, "fax000.tif", []byte("II*\x00 other"))
	waitFor(t, "the other fax", doneHas(t, e, "fax000.tif"))
	waitPasses(t, e, 3)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the empty file was taken while its writer holds it: %v (failed/: %v)", err, filesUnder(t, e.Paths().Failed))
	}
	if st := e.Stats(); st.Empty != 1 || st.Waiting != 1 || st.Failed != 0 {
		t.Errorf("stats %+v, want 1 empty file waiting, none failed", st)
	}
	if _, err := f.Write([]byte("II*\x00 the fax, written at last")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitFor(t, "the fax taken once written", doneHas(t, e, "fax001.tif"))
	calls := rec.all()
	if len(calls) != 2 || string(calls[1].body) != "II*\x00 the fax, written at last" {
		t.Fatalf("consumed %d, want the written fax second", len(calls))
	}
	waitFor(t, "empty count cleared", func() bool { e.Rescan(); return e.Stats().Empty == 0 })
}

// TestEmptyFileFailsAfterLimit: a file that stays empty goes to failed/
// after the limit, with a reason that says it stayed empty, without a
// Consume (whose reason, "neither TIFF nor PDF", would mislead).
func TestEmptyFileFailsAfterLimit(t *testing.T) {
	dir := t.TempDir()
	rec := faxLike()
	e := startEngine(t, testConfig(dir), rec, withEmptyLimit(150*time.Millisecond))
	writeFile(t, filepath.Join(dir, "fax001.tif"), nil)
	// The .error.txt is written before the move and the count after it;
	// the Empty count is the next pass's.
	waitFor(t, "failed", func() bool {
		e.Rescan()
		_, err := os.Stat(filepath.Join(e.Paths().Failed, "fax001.tif.error.txt"))
		st := e.Stats()
		return err == nil && st.Failed == 1 && st.Empty == 0
	})
	why, err := os.ReadFile(filepath.Join(e.Paths().Failed, "fax001.tif.error.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(why), "reason: the file is empty (0 bytes) and stayed so for 150ms") {
		t.Errorf("reason:\n%s", why)
	}
	if rec.count() != 0 {
		t.Errorf("consumed %d times, want 0", rec.count())
	}
	if st := e.Stats(); st.Failed != 1 || st.Empty != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestDefaultEmptyLimit: five minutes, or ten settle periods if longer.
func TestDefaultEmptyLimit(t *testing.T) {
	for settle, want := range map[time.Duration]time.Duration{2 * time.Second: 5 * time.Minute, time.Minute: 10 * time.Minute} {
		if got := defaultEmptyLimit(settle); got != want {
			t.Errorf("settle %s: %s, want %s", settle, got, want)
		}
	}
}
