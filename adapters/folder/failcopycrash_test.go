package folder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// copyFile copies src to dst, as a move to a failed_dir on another
// volume (and on Windows to any failed_dir) does before it removes the
// original.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, b)
}

// TestCrashBetweenFailedCopyAndRemoval: a move to a failed_dir on
// another volume, and on Windows to any failed_dir, copies the file
// there and then removes the original. A crash between the two, after a
// refused input's sidecars had gone, left the input both in failed_dir
// and alone in processing/, and the next start consumed it again
// without its sidecars; a late sidecar left so in the folder went with
// the next input of its name. The copy left behind is now removed: the
// file is in failed_dir beside its reason.
func TestCrashBetweenFailedCopyAndRemoval(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	cfg.FailedDir = t.TempDir()
	refuse := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		if len(in.Sidecars) > 0 && in.Name == "fax7.pdf" {
			return queue.Permanent(errors.New("sidecar: MRN 99999 is no patient of the practice"))
		}
		return nil
	}}
	e1 := startEngine(t, cfg, refuse, withEmptyLimit(300*time.Millisecond))
	failed, proc := e1.Paths().Failed, e1.Paths().Processing
	has := func(name string) func() bool {
		return func() bool {
			e1.Rescan()
			_, err := os.Stat(filepath.Join(failed, name))
			return err == nil
		}
	}
	writeFile(t, filepath.Join(dir, "fax7.json"), []byte(`{"MRN":"99999"}`))
	writeFile(t, filepath.Join(dir, "fax7.pdf"), []byte("%PDF-1.4 seven"))
	waitFor(t, "fax7.pdf in failed_dir", has("fax7.pdf"))
	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 one"))
	waitFor(t, "fax1.pdf taken", doneHas(t, e1, "fax1.pdf"))
	dropFile(t, dir, "fax1.json", []byte(`{"MRN":"1001"}`))
	waitFor(t, "the late fax1.json in failed_dir", has("fax1.json"))
	if err := e1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The state a crash after the copies and before the removals leaves.
	copyFile(t, filepath.Join(failed, "fax7.pdf"), filepath.Join(proc, "fax7.pdf"))
	copyFile(t, filepath.Join(failed, "fax1.json"), filepath.Join(dir, "fax1.json"))

	rec := &recorder{}
	startEngine(t, cfg, rec)
	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 two"))
	waitFor(t, "the next fax1.pdf taken and settled", func() bool {
		calls := rec.all()
		return len(calls) > 0 && calls[len(calls)-1].raw.Name == "fax1.pdf" && len(filesUnder(t, proc)) == 0
	})
	for _, c := range rec.all() {
		if c.raw.Name != "fax1.pdf" || len(c.raw.Sidecars) != 0 {
			t.Errorf("%s consumed after the crash, with sidecars %q", c.raw.Name, c.raw.Sidecars)
		}
	}
	if left := filesUnder(t, proc); len(left) != 0 {
		t.Errorf("processing/ holds %v", left)
	}
	if _, err := os.Stat(filepath.Join(dir, "fax1.json")); !os.IsNotExist(err) {
		t.Errorf("the late sidecar is still in the folder: %v", err)
	}
	want := "fax1.json fax1.json.error.txt fax7.json fax7.pdf fax7.pdf.error.txt"
	if got := strings.Join(filesUnder(t, failed), " "); got != want {
		t.Errorf("failed_dir holds %s, want %s", got, want)
	}
}
