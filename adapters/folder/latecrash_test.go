package folder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrashBetweenLateSidecarReasonAndMove: a sidecar that came after
// its input was taken goes to failed/, its reason written first and the
// sidecar moved beside it after. A crash between the two left the
// sidecar in the folder, and the next start, which knows nothing of the
// input taken before it, let it lie there until the next input of its
// name came and went with it as if it were its own: the next fax was
// filed under the patient of the one before. It now goes beside its
// reason at the start, and the next fax goes without it.
func TestCrashBetweenLateSidecarReasonAndMove(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	e1 := startEngine(t, cfg, &recorder{}, withEmptyLimit(300*time.Millisecond))
	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 one"))
	waitFor(t, "fax1.pdf taken", doneHas(t, e1, "fax1.pdf"))
	dropFile(t, dir, "fax1.json", []byte(`{"MRN":"1001"}`))
	failed := e1.Paths().Failed
	waitFor(t, "the late sidecar in failed/", func() bool {
		e1.Rescan()
		_, err := os.Stat(filepath.Join(failed, "fax1.json"))
		return err == nil
	})
	if err := e1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	reason, err := os.ReadFile(filepath.Join(failed, "fax1.json.error.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The state a crash after the reason was written and before the
	// sidecar's move leaves.
	if err := os.Rename(filepath.Join(failed, "fax1.json"), filepath.Join(dir, "fax1.json")); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	startEngine(t, cfg, rec)
	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 two"))
	waitFor(t, "the next fax1.pdf taken", func() bool { return rec.count() == 1 })
	if in := rec.all()[0].raw; len(in.Sidecars) != 0 {
		t.Errorf("the next fax went with the late sidecar of the one before: %q", in.Sidecars)
	}
	if got := strings.Join(filesUnder(t, failed), " "); got != "fax1.json fax1.json.error.txt" {
		t.Errorf("failed/ holds %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(failed, "fax1.json.error.txt")); string(b) != string(reason) {
		t.Errorf("the reason changed:\n%s\nwas:\n%s", b, reason)
	}
	if _, err := os.Stat(filepath.Join(dir, "fax1.json")); !os.IsNotExist(err) {
		t.Errorf("the late sidecar is still in the folder: %v", err)
	}
}
