package folder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLateSidecarAfterRestart: what inputs were taken, for a sidecar of
// their name that comes after, was known only to the run that took
// them. A sidecar that came after ferry restarted (a service update, a
// reboot) for an input taken before it lay in the folder unseen, then
// went with the next input of its name as if it were its own: the next
// fax filed under the patient of the one before. It now goes to failed/
// as one that came too late, as it does within a run.
func TestLateSidecarAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	e1 := startEngine(t, cfg, &recorder{})
	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 one"))
	waitFor(t, "fax1.pdf taken", doneHas(t, e1, "fax1.pdf"))
	if err := e1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	dropFile(t, dir, "fax1.json", []byte(`{"MRN":"1001"}`))

	rec := &recorder{}
	e2 := startEngine(t, cfg, rec, withEmptyLimit(300*time.Millisecond))
	reason := filepath.Join(e2.Paths().Failed, "fax1.json.error.txt")
	waitFor(t, "the late sidecar in failed/", func() bool {
		e2.Rescan()
		_, err := os.Stat(filepath.Join(e2.Paths().Failed, "fax1.json"))
		return err == nil
	})
	b, _ := os.ReadFile(reason)
	if !strings.Contains(string(b), "reason: a sidecar that came after ") || !strings.Contains(string(b), "fax1") {
		t.Errorf("reason:\n%s", b)
	}
	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 two"))
	waitFor(t, "the next fax1.pdf", func() bool { return rec.count() == 1 })
	if in := rec.all()[0].raw; len(in.Sidecars) != 0 {
		t.Errorf("the next fax went with the sidecar of the one before: %q", in.Sidecars)
	}
	if st := e2.Stats(); st.Failed != 1 {
		t.Errorf("failed %d, want 1", st.Failed)
	}
}
