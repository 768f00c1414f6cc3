package audit

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestSpoolPartialAppendCountsOnlyLost: when the disk refuses a spool
// append part way (full; here the file size limit, in a child process),
// the events written before the failure are in the spool and will be
// sent: only the rest are lost. Counting the whole batch lost overstates
// the gap that "Audit Recording Stopped" reports to the repository.
func TestSpoolPartialAppendCountsOnlyLost(t *testing.T) {
	dir := os.Getenv("FERRY_SPOOL_PARTIAL_DIR")
	if dir == "" {
		dir = t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolPartialAppendCountsOnlyLost$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FERRY_SPOOL_PARTIAL_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		s, err := openSpool(dir, DefaultMaxSpoolBytes)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if n := s.Len(); n != 2 {
			t.Fatalf("after a restart the spool holds %d events, want 2", n)
		}
		return
	}
	s, err := New(Options{URL: "tls://" + reserveAddr(t), SourceID: "ferry-clinic-1", SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// Room for two of the three records (they are of one size) and a
	// part of the third.
	ev := s.prepare(nil, exportN(0))[0]
	m, err := marshalRecord(s.header.ProcID, &ev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s.Record(exportN(i)) // before Start: spooled together at Shutdown
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := syscall.Rlimit{Cur: uint64(2*(recHeader+len(m)) + 20), Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("cannot limit the file size: %v", err)
	}
	s.Shutdown(context.Background())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Pending != 2 || st.Spooled != 2 || st.Dropped != 1 {
		t.Fatalf("stats %+v: want 2 spooled and pending, 1 dropped", st)
	}
}
