package audit

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSpoolRefusedByDiskIsLogged: with the repository down, the disk
// refuses the spool an event (full; here the file size limit, in a child
// process). The event is lost, and the log must say so: the only line
// the sink wrote was "audit repository unreachable; events are spooled
// and sent when it is back", which said the opposite, and once the
// repository was down nothing more was logged however many events the
// disk refused.
func TestSpoolRefusedByDiskIsLogged(t *testing.T) {
	dir := os.Getenv("FERRY_SPOOL_DISKFULL_DIR")
	if dir == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolRefusedByDiskIsLogged$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "FERRY_SPOOL_DISKFULL_DIR="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	var logs syncBuffer
	spool := filepath.Join(dir, "spool")
	s := newSink(t, "tls://"+reserveAddr(t), clientTLS(demoPKI(t)), spool, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	start(t, s)
	s.Record(exportN(0))
	waitStats(t, s, "spooled, the repository down", func(st Stats) bool { return st.Spooled == 1 && st.LastError != "" })
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := syscall.Rlimit{Cur: uint64(dirBytes(t, spool) + 20), Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("cannot limit the file size: %v", err)
	}
	s.Record(exportN(1))
	st := waitStats(t, s, "the event the disk refused counted", func(st Stats) bool { return st.Dropped == 1 })
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.LastError, "spool") {
		t.Errorf("status last error %q does not name the spool", st.LastError)
	}
	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		warned = warned || strings.Contains(line, "level=WARN") && strings.Contains(line, "audit spool could not be written") && strings.Contains(line, "lost=1")
	}
	if !warned {
		t.Errorf("no WARN says the event was lost to the spool:\n%s", logs.String())
	}
	shutdown(t, s)
}
