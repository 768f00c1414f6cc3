package audit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSpoolFailedAppendLeavesNoTornRecord: an append the disk refuses part
// way (a full disk; here the file size limit, which makes write(2) stop
// short with EFBIG) must not leave the part it wrote in the segment. The
// records appended after it, once there is room again, must read back,
// and survive a restart; a torn record in the middle would make every
// Peek fail (the spool never drains) and openSpool cut them off.
//
// The size limit is set in a child process, so that no other test's files
// are limited.
func TestSpoolFailedAppendLeavesNoTornRecord(t *testing.T) {
	dir := os.Getenv("FERRY_SPOOL_TORN_DIR")
	if dir == "" {
		dir = t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolFailedAppendLeavesNoTornRecord$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FERRY_SPOOL_TORN_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		// After a restart the spool holds what Append reported spooled.
		s, err := openSpool(dir, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got := peekAll(t, s)
		want := []string{string(rec(1)), string(rec(2)), string(rec(4))}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("after restart the spool holds %d records %q; want %d (1, 2, 4)", len(got), got, len(want))
		}
		return
	}
	s, err := openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append([][]byte{rec(1), rec(2)}); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, segName(s.segs[0].seq))
	st, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := syscall.Rlimit{Cur: uint64(st.Size()) + 20, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("cannot limit the file size: %v", err)
	}
	_, aerr := s.Append([][]byte{rec(3)})
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if aerr == nil {
		t.Fatal("append past the file size limit succeeded")
	}
	if _, err := s.Append([][]byte{rec(4)}); err != nil {
		t.Fatalf("append once there is room again: %v", err)
	}
	got := peekAll(t, s)
	want := []string{string(rec(1)), string(rec(2)), string(rec(4))}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("spool holds %q; want records 1, 2, 4", got)
	}
}
