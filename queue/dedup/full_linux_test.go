package dedup

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ferry-health/ferry/queue/queuetest"
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

// TestOpenOnFullDisk: a set whose file Open would rewrite (a torn tail
// left by a power cut, or more records than the retention keeps, which a
// set past its MaxKeys has at most starts) opens on a full disk. The
// rewrite needs room for a second copy of the file; it failed, and with
// it the gateway's start ("open dedup set: compact: no space left on
// device"), although the set can go on in the file it has: the torn tail
// is cut off in place and the rewrite waits for a later start.
func TestOpenOnFullDisk(t *testing.T) {
	for _, tc := range []struct {
		name string
		torn bool
	}{{"torn tail", true}, {"past retention", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, fill, free := queuetest.SmallDisk(t, 1<<20)
			path := filepath.Join(dir, "dedup.log")
			const maxKeys = 100
			s := mustOpen(t, path, Options{MaxKeys: maxKeys})
			n := 180 // more than 1.25 x maxKeys: Open compacts
			if tc.torn {
				n = 50
			}
			for i := range n {
				mustAdd(t, s, key(i))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.torn {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				k := key(999)
				f.Write(k[:20]) // a record cut short by a power cut
				f.Close()
			}
			fill()
			s, err := Open(path, Options{MaxKeys: maxKeys})
			if err != nil {
				t.Fatalf("Open on a full disk: %v", err)
			}
			for i := n - min(n, maxKeys); i < n; i++ {
				if !s.Seen(key(i)) {
					t.Fatalf("key %d not seen after opening on a full disk", i)
				}
			}
			if s.Seen(key(999)) {
				t.Fatal("the torn record counted as seen")
			}
			free()
			mustAdd(t, s, key(1000))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, path, Options{MaxKeys: maxKeys})
			defer s.Close()
			for _, i := range []int{n - 1, 1000} {
				if !s.Seen(key(i)) {
					t.Errorf("key %d lost after reopening", i)
				}
			}
		})
	}
}

// TestCompactionOnFullDisk: the compaction a flush starts once the file
// holds twice the retained keys needs room for their copy. On a full disk
// (the record just written still fit in the file's last block) it failed
// and stopped the set until the process restarted: every later Remember
// failed, and resends went unrecognised, although the file was whole and
// the disk had room again. The set now goes on in its file and compacts
// later.
func TestCompactionOnFullDisk(t *testing.T) {
	dir, fill, free := queuetest.SmallDisk(t, 1<<20)
	path := filepath.Join(dir, "dedup.log")
	const maxKeys = 150
	s := mustOpen(t, path, Options{MaxKeys: maxKeys})
	for i := range 2 * maxKeys {
		mustAdd(t, s, key(i))
	}
	fill()
	// 8 + 301*44 bytes still fit in the 4 KiB pages the file has; the
	// compaction's copy does not.
	if err := s.Add(key(2 * maxKeys)); err != nil {
		t.Fatalf("Add whose record fits on a full disk: %v", err)
	}
	free()
	for i := 2*maxKeys + 1; i < 5*maxKeys; i++ {
		if err := s.Add(key(i)); err != nil {
			t.Fatalf("Add %d once the disk has room again: %v", i, err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > int64(headerLen+(2*maxKeys+1)*recLen) {
		t.Errorf("file of %d bytes: not compacted once the disk had room", st.Size())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path, Options{MaxKeys: maxKeys})
	defer s.Close()
	for i := 4 * maxKeys; i < 5*maxKeys; i++ {
		if !s.Seen(key(i)) {
			t.Fatalf("key %d lost after reopening", i)
		}
	}
}
