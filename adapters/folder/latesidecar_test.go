package folder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLateSidecarGoesToFailed: a sidecar uploaded after its fax was taken
// (a cloud fax's webhook writing x.json a minute after x.pdf) could not go
// with it, and lay in the folder for ever, seen by nobody, and ready to be
// taken with the next fax of that name as if it were that fax's. Once it
// has waited for a fax of its name as long as an empty file waits for
// content, it goes to failed/ with a reason naming it and the fax it came
// too late for, counted as failed; a sidecar for a fax still to come (the
// next x.pdf, written after its x.json) is taken with it as before.
func TestLateSidecarGoesToFailed(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	e := startEngine(t, cfg, rec, withEmptyLimit(300*time.Millisecond))

	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 one"))
	waitFor(t, "fax1.pdf taken", doneHas(t, e, "fax1.pdf"))
	dropFile(t, dir, "fax1.json", []byte(`{"MRN":"1001"}`))
	reason := filepath.Join(e.Paths().Failed, "fax1.json.error.txt")
	waitFor(t, "the late sidecar in failed/", func() bool {
		e.Rescan()
		_, err := os.Stat(reason)
		return err == nil && e.Stats().Failed == 1
	})
	if _, err := os.Stat(filepath.Join(dir, "fax1.json")); !os.IsNotExist(err) {
		t.Errorf("the late sidecar is still in the folder: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(e.Paths().Failed, "fax1.json")); err != nil || string(b) != `{"MRN":"1001"}` {
		t.Errorf("the sidecar in failed/: %q, %v", b, err)
	}
	b, _ := os.ReadFile(reason)
	if !strings.Contains(string(b), "file: fax1.json\n") || !strings.Contains(string(b), "after fax1.pdf was taken") {
		t.Errorf("reason:\n%s", b)
	}
	if rec.count() != 1 {
		t.Errorf("consumed %d, want 1", rec.count())
	}

	// The next fax of that name, its sidecar written first: taken
	// together, the sidecar not sent to failed/.
	dropFile(t, dir, "fax1.json", []byte(`{"MRN":"2002"}`))
	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 two"))
	waitFor(t, "the second fax", func() bool { return rec.count() == 2 })
	if in := rec.all()[1].raw; string(in.Sidecars["fax1.json"]) != `{"MRN":"2002"}` {
		t.Errorf("the second fax went with sidecars %q", in.Sidecars)
	}
	if st := e.Stats(); st.Failed != 1 {
		t.Errorf("failed %d, want 1", st.Failed)
	}
}
