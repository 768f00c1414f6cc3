package diskq

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOpenWaitsOutInUseProbe: InUse (`ferry status`) holds a shared lock
// on the queue's LOCK for an instant; a gateway starting at that instant
// waits it out instead of failing with ErrLocked.
func TestOpenWaitsOutInUseProbe(t *testing.T) {
	dir := t.TempDir()
	closeQ(t, open(t, dir, Options{}))
	f, err := os.Open(filepath.Join(dir, "LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(10 * time.Millisecond) // well inside Open's wait, even on a loaded machine
		unix.Flock(fd, unix.LOCK_UN)
	}()
	defer func() { <-released }() // before f.Close
	q, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open during a probe: %v", err)
	}
	closeQ(t, q)
}
