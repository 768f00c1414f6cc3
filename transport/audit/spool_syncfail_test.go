package audit

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestSpoolFailedSyncWritesAgain: after a failed fsync the kernel may have
// dropped the pages it could not write while marking them clean, so a
// later fsync of the same file succeeds without them. The spool kept the
// records of an append whose fsync failed as spooled and fsynced the same
// segment again at the next append, which then passed: those events were
// counted as kept, and a restart could lose them without the gap being
// reported. The records are now written again, in a new segment, and
// fsynced there; the failed segment is never synced again.
func TestSpoolFailedSyncWritesAgain(t *testing.T) {
	if runtime.GOOS == "windows" {
		// FlushFileBuffers on a pipe waits until its reader has read
		// everything; the failure injected here is POSIX fsync's.
		t.Skip("a pipe's flush blocks on Windows rather than failing")
	}
	dir := t.TempDir()
	s, err := openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append([][]byte{rec(1)}); err != nil {
		t.Fatal(err)
	}
	// The next fsync fails: the segment's handle is swapped for a pipe,
	// whose fsync fails, after the records were written to the file.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	var real *os.File
	synced := map[string]int{}
	s.syncHook = func(name string) {
		synced[name]++
		if real == nil {
			real, s.w = s.w, pw
		}
	}
	failedSeg := segName(s.segs[0].seq)
	_, aerr := s.Append([][]byte{rec(2), rec(3)})
	if real != nil {
		defer real.Close()
	}
	if aerr != nil {
		t.Fatalf("append whose fsync failed once: %v (the records are to be written again)", aerr)
	}
	if n := synced[failedSeg]; n != 1 {
		t.Errorf("the segment whose fsync failed was synced %d times", n)
	}
	if _, err := s.Append([][]byte{rec(4)}); err != nil {
		t.Fatal(err)
	}
	if n := synced[failedSeg]; n != 1 {
		t.Errorf("the segment whose fsync failed was synced %d times", n)
	}
	want := strings.Join([]string{string(rec(1)), string(rec(2)), string(rec(3)), string(rec(4))}, "|")
	if got := strings.Join(peekAll(t, s), "|"); got != want {
		t.Fatalf("spool holds %q; want records 1 to 4, once each", got)
	}
	s.Close()
	s, err = openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strings.Join(peekAll(t, s), "|"); got != want {
		t.Fatalf("after reopening the spool holds %q; want records 1 to 4, once each", got)
	}
}
