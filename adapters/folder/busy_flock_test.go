//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package folder

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// HylaFAX holds flock(LOCK_EX) while a fax is received; the engine must not
// take the file until the lock is released, however long it has been
// unchanged.
func TestLockedFileWaitsForRelease(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.Settle = 20 * time.Millisecond
	e := startEngine(t, cfg, rec)

	path := filepath.Join(dir, "fax000000001.tif")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("II*\x00 complete page")); err != nil {
		t.Fatal(err)
	}
	// The engine looked at the settled file and declined it, several times.
	waitFor(t, "lock refusals", func() bool { e.Rescan(); return e.heldSkips.Load() >= 3 })
	if rec.count() != 0 {
		t.Fatal("locked file was consumed")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("locked file was moved: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitFor(t, "done", doneHas(t, e, "fax000000001.tif"))
	if rec.count() != 1 {
		t.Fatalf("consumed %d, want 1", rec.count())
	}
}
