package folder

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLateSidecarRetriedKeepsItsReason: a late sidecar's reason is
// written to failed/ before the sidecar is moved beside it. A move that
// failed (a Windows virus scanner holding the JSON open; here the file
// made immutable) was tried again at the next pass under another name,
// fax1~2.json beside a second reason, and the first reason stayed in
// failed/ naming a file that was not there. The retry now takes its own
// reason back, as fail does, and failed/ holds the sidecar and one
// reason.
func TestLateSidecarRetriedKeepsItsReason(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	e := startEngine(t, cfg, &recorder{}, withEmptyLimit(200*time.Millisecond))
	dropFile(t, dir, "fax1.pdf", []byte("%PDF-1.4 one"))
	waitFor(t, "fax1.pdf taken", doneHas(t, e, "fax1.pdf"))
	sc := filepath.Join(dir, "fax1.json")
	dropFile(t, dir, "fax1.json", []byte(`{"MRN":"1001"}`))
	if out, err := exec.Command("chattr", "+i", sc).CombinedOutput(); err != nil {
		t.Skipf("chattr +i is not available here (it needs CAP_LINUX_IMMUTABLE and ext4, XFS or tmpfs): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", sc).Run() })
	failed := e.Paths().Failed
	waitFor(t, "the late sidecar's reason", func() bool {
		e.Rescan()
		_, err := os.Stat(filepath.Join(failed, "fax1.json.error.txt"))
		return err == nil
	})
	waitPasses(t, e, 2)
	if out, err := exec.Command("chattr", "-i", sc).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v %s", err, out)
	}
	waitFor(t, "the late sidecar gone from the folder", func() bool {
		e.Rescan()
		_, err := os.Stat(sc)
		return os.IsNotExist(err)
	})
	if got := strings.Join(filesUnder(t, failed), " "); got != "fax1.json fax1.json.error.txt" {
		t.Errorf("failed/ holds %s, want fax1.json fax1.json.error.txt", got)
	}
}
