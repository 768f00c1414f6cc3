package dedup

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFullDiskRecovers: a write the disk refuses (here RLIMIT_FSIZE, which
// fails a write with EFBIG where a full file system says ENOSPC) fails
// the Add that needed it, but the set goes on: once there is room again
// keys are added and kept, as the queue takes items again without a
// restart. Before, the first refused write stopped the set until the
// process restarted: every later Remember failed (a warning per message)
// and resends were no longer recognised.
func TestFullDiskRecovers(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &lim); err != nil || lim.Max != unix.RLIM_INFINITY {
		t.Skipf("the hard RLIMIT_FSIZE is not unlimited (%v)", err)
	}
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	path := filepath.Join(t.TempDir(), "dedup.log")
	s := mustOpen(t, path, Options{})
	mustAdd(t, s, key(1))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// The disk is full: the next record does not fit.
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: uint64(st.Size()) + recLen/2, Max: lim.Max}); err != nil {
		t.Fatal(err)
	}
	err = s.Add(key(2))
	if rerr := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("Add succeeded on a full disk")
	}
	// Room again.
	if err := s.Add(key(3)); err != nil {
		t.Fatalf("Add after the disk has room again: %v", err)
	}
	if err := s.Remember(key(4)); err != nil {
		t.Fatalf("Remember after the disk has room again: %v", err)
	}
	if err := s.Add(key(2)); err != nil {
		t.Fatalf("Add again of the key whose write failed: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path, Options{})
	defer s.Close()
	for _, i := range []int{1, 2, 3, 4} {
		if !s.Seen(key(i)) {
			t.Errorf("key %d not kept after reopening", i)
		}
	}
	if s.Len() != 4 {
		t.Errorf("Len = %d after reopening, want 4", s.Len())
	}
}
