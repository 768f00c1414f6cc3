package folder

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// TestSettleRetriedIsNotConsumedAgain: a consumed input whose move to
// done/ fails after its sidecar has moved (a Windows indexer or virus
// scanner holding the PDF open in processing/, a done_dir on another
// volume with room for the small sidecar but not the PDF) waits for
// another try. That try read the input again without the sidecar, whose
// content is part of the seen-set key, so the key was new and the fax
// was consumed a second time, now without the patient its sidecar
// named: a second DocumentReference at the exchange, for no patient.
// The retry now only settles what was consumed, and the WARN says the
// input was queued and only its move waits, not that it was not
// consumed. Here the input is made immutable (chattr +i, which refuses
// its rename) while it is consumed.
func TestSettleRetriedIsNotConsumedAgain(t *testing.T) {
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
		return nil
	}}
	e, logs := startLogged(t, cfg, rec, false)
	t.Cleanup(func() { exec.Command("chattr", "-i", proc).Run() })
	writeFile(t, filepath.Join(dir, "fax1.json"), []byte(`{"MRN":"1001"}`))
	writeFile(t, filepath.Join(dir, "fax1.pdf"), []byte("%PDF-1.4 fax"))
	if !<-locked {
		t.Skip("chattr +i is not available here (it needs CAP_LINUX_IMMUTABLE and ext4, XFS or tmpfs)")
	}
	waitFor(t, "the failed move to done/", func() bool { return e.Stats().Retrying == 1 })
	waitPasses(t, e, 2)
	if l := logs.String(); strings.Contains(l, "not consumed") || !strings.Contains(l, "queued, but not moved out of processing/") {
		t.Errorf("the WARN of a consumed input whose move failed says it was not consumed, or not that only its move waits:\n%s", l)
	}
	if out, err := exec.Command("chattr", "-i", proc).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v %s", err, out)
	}
	waitFor(t, "fax1.pdf in done/", func() bool { e.Rescan(); return doneHas(t, e, "fax1.pdf")() })
	if n := rec.count(); n != 1 {
		t.Errorf("consumed %d times, want once", n)
	}
}
