package folder

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestFailRetriedIsNotConsumedAgain: an input refused for good whose
// move to failed/ fails after its sidecar has moved there (a Windows
// indexer or virus scanner holding the PDF open in processing/) waits
// for another try. That try consumed it again, now without the sidecar,
// the very thing refused (a sidecar naming no patient the practice
// has): the fax went to the exchange filed under no patient, and its
// sidecar lay in failed/ beside a reason for a file that was not there.
// The retry now only moves it to failed/, for the reason it failed.
func TestFailRetriedIsNotConsumedAgain(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	cfg.RetryInitial, cfg.RetryMax = 20*time.Millisecond, 20*time.Millisecond
	proc := filepath.Join(dir, ".ferry", "processing", "fax1.pdf")
	locked := make(chan bool, 1)
	rec := &recorder{fn: func(_ context.Context, n int, in adapters.Raw) error {
		if n == 0 {
			err := exec.Command("chattr", "+i", proc).Run()
			locked <- err == nil
		}
		if len(in.Sidecars) > 0 {
			return queue.Permanent(errors.New("sidecar: MRN 99999 is no patient of the practice"))
		}
		return nil // a fax without a sidecar is filed for triage
	}}
	e := startEngine(t, cfg, rec)
	t.Cleanup(func() { exec.Command("chattr", "-i", proc).Run() })
	writeFile(t, filepath.Join(dir, "fax1.json"), []byte(`{"MRN":"99999"}`))
	writeFile(t, filepath.Join(dir, "fax1.pdf"), []byte("%PDF-1.4 fax"))
	if !<-locked {
		t.Skip("chattr +i is not available here (it needs CAP_LINUX_IMMUTABLE and ext4, XFS or tmpfs)")
	}
	waitFor(t, "the failed move to failed/", func() bool { return e.Stats().Retrying == 1 })
	waitPasses(t, e, 2)
	if out, err := exec.Command("chattr", "-i", proc).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v %s", err, out)
	}
	waitFor(t, "fax1.pdf in failed/", func() bool {
		e.Rescan()
		for _, f := range filesUnder(t, e.Paths().Failed) {
			if f == "fax1.pdf" {
				return true
			}
		}
		return false
	})
	if n := rec.count(); n != 1 {
		t.Errorf("consumed %d times, want once", n)
	}
	if got := strings.Join(filesUnder(t, e.Paths().Failed), " "); got != "fax1.json fax1.pdf fax1.pdf.error.txt" {
		t.Errorf("failed/ holds %s, want fax1.json fax1.pdf fax1.pdf.error.txt", got)
	}
}
