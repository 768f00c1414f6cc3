package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// diskFullChild marks the child process TestReadyzDiskFull runs in.
const diskFullChild = "FERRY_TEST_READYZ_DISKFULL_CHILD"

// TestReadyzDiskFull fills the queue's disk for real, as the queue's own
// disk-full tests do: RLIMIT_FSIZE makes every write at or beyond the
// limit fail with EFBIG where a full file system says ENOSPC. The
// message that meets it is answered AR and the queue goes on, but
// /readyz answered 200 ready while every message was refused; it is 503
// naming the queue's failed write until the disk has room again, which
// the queue finds without another message (it stayed 503 until the next
// message was stored, which a sender waiting for /readyz never sent).
//
// The limit is the whole process's, so the test runs in a child process of
// its own: go test's log of the files the tests open (-test.testlogfile,
// for its cache) is appended to meanwhile, and an append past the limit
// failed the package run ("can't write testlog.txt: file too large").
func TestReadyzDiskFull(t *testing.T) {
	if os.Getenv(diskFullChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReadyzDiskFull$", "-test.v")
		cmd.Env = append(os.Environ(), diskFullChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("%s", out)
		}
		return
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &lim); err != nil || lim.Max != unix.RLIM_INFINITY {
		t.Skipf("the hard RLIMIT_FSIZE is not unlimited (%v)", err)
	}
	paths, recv, url := testPKI(t)
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - {name: t, listen: "127.0.0.1:0"}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 1h, max_interval: 1h}
`, t.TempDir(), url, paths.CA, paths.ClientCert, paths.ClientKey)
	cfg.Status.Listen = "127.0.0.1:0"
	recv.SetFailure(http.StatusServiceUnavailable)
	gw := runGateway(t, cfg)
	get := func() (int, string) { t.Helper(); return statusGet(t, gw, "/readyz") }
	conn, rd := dial(t, gw)
	if got := send(t, conn, rd, adt(0)); got != "AA" {
		t.Fatalf("MSA-1 %s, want AA", got)
	}
	if err := gw.q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Beyond the limit the kernel also sends SIGXFSZ, which would end
	// the test binary.
	signal.Ignore(syscall.SIGXFSZ)
	t.Cleanup(func() { signal.Reset(syscall.SIGXFSZ) })
	setFsize := func(n uint64) {
		t.Helper()
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: n, Max: unix.RLIM_INFINITY}); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
	}
	t.Cleanup(func() { setFsize(unix.RLIM_INFINITY) })
	setFsize(uint64(gw.q.Stats().DiskBytes))
	if got := send(t, conn, rd, adt(1)); got != "AR" {
		t.Fatalf("message meeting the full disk: MSA-1 %s, want AR", got)
	}
	code, body := get()
	setFsize(unix.RLIM_INFINITY)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: queue") || !strings.Contains(body, "file too large") {
		t.Errorf("/readyz with the queue's disk full: %d %q", code, body)
	}
	if strings.Contains(body, "Doe") || strings.Contains(body, "MRN") {
		t.Errorf("PHI in /readyz: %q", body)
	}
	// Ready again once the disk has room, before any message comes: a
	// sender (or a monitor) that waits for /readyz sends none before.
	waitFor(t, "/readyz once the disk has room, no message sent", func() bool { code, _ := get(); return code == http.StatusOK })
	if got := send(t, conn, rd, adt(1)); got != "AA" {
		t.Fatalf("message once the disk has room: MSA-1 %s, want AA", got)
	}
	if code, body := get(); code != http.StatusOK {
		t.Errorf("/readyz once the disk has room: %d %q", code, body)
	}
}
