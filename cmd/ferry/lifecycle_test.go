package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/ferry-health/ferry/queue/diskq"
)

// settledGoroutines waits until the number of goroutines drops to at most
// want (stopped goroutines take a moment to be reaped), and returns the
// last count seen with a dump of the stacks when it does not.
func settledGoroutines(want int) (int, string) {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > want; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n <= want {
		return n, ""
	}
	buf := make([]byte, 1<<20)
	return n, string(buf[:runtime.Stack(buf, true)])
}

// TestGatewayStartStopNoLeak starts and stops a gateway with every kind of
// component (and the audit trail) four times, a message through each time, and checks that
// every goroutine it started has ended after each Shutdown.
func TestGatewayStartStopNoLeak(t *testing.T) {
	paths, recv, url := testPKI(t)
	repo := newUDPRepo(t)
	dataDir := t.TempDir()
	drop := t.TempDir()
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
  folders:
    - name: drop
      kind: ehr
      path: %q
      rescan: 50ms
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
`, dataDir, repo.URL(), drop, url, paths.CA, paths.ClientCert, paths.ClientKey)
	cfg.Status.Listen = "127.0.0.1:0" // config check refuses port 0
	// One warm-up cycle: the HTTP client's and the runtime's lazily
	// started goroutines are not the gateway's.
	before := -1
	for cycle := 0; cycle < 4; cycle++ {
		gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
		if err != nil {
			t.Fatal(err)
		}
		if err := gw.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		conn, rd := dial(t, gw)
		if got := send(t, conn, rd, adt(cycle)); got != "AA" {
			t.Fatalf("cycle %d: MSA-1 %s", cycle, got)
		}
		waitFor(t, "delivery", func() bool { return recv.Bundles() == cycle+1 })
		conn.Close()
		if err := gw.Shutdown(context.Background()); err != nil {
			t.Fatalf("cycle %d: shutdown: %v", cycle, err)
		}
		if before < 0 {
			before, _ = settledGoroutines(0)
			continue
		}
		if n, stacks := settledGoroutines(before); n > before {
			t.Fatalf("cycle %d: %d goroutines after Shutdown, %d after the first cycle:\n%s", cycle, n, before, stacks)
		}
	}
}

// TestGatewaySourceFailsToStart: a second listener whose port is taken
// fails the start; everything the start opened (the first listener, the
// queue's lock, the scheduler and delivery goroutines) is released again,
// so that a restart in the same process, or by the service manager, works.
func TestGatewaySourceFailsToStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dataDir := t.TempDir()
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: a
      listen: 127.0.0.1:0
    - name: b
      listen: %q
`, dataDir, taken.Addr().String())
	cfg.Status.Listen = "127.0.0.1:0" // config check refuses port 0
	base, _ := settledGoroutines(0)
	var logs lockedBuffer
	p := &program{cfg: cfg, log: newLogger(&logs, "info")}
	err = p.startGateway()
	if err == nil {
		p.stopGateway()
		t.Fatal("start with a taken port succeeded")
	}
	if !strings.Contains(err.Error(), "mllp/b") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("start error does not name the source and address: %v", err)
	}
	if p.gw != nil {
		t.Error("program kept the gateway that failed to start")
	}
	if n, stacks := settledGoroutines(base); n > base {
		t.Fatalf("%d goroutines after the failed start, %d before:\n%s", n, base, stacks)
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatalf("queue still locked after the failed start: %v", err)
	}
	q.Close(context.Background())
	if !strings.Contains(logs.String(), "ferry did not start") {
		t.Errorf("log lacks the failed start:\n%s", logs.String())
	}
}

// TestNewGatewayFailureLeaksNothing: a configuration that fails while the
// gateway is built (a folder source whose settings the engine refuses)
// leaves no goroutine and no lock behind.
func TestNewGatewayFailureLeaksNothing(t *testing.T) {
	dataDir := t.TempDir()
	drop := filepath.Join(t.TempDir(), "drop")
	if err := os.MkdirAll(drop, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - name: drop
      kind: ehr
      path: %q
`, dataDir, drop)
	cfg.Sources.Folders[0].Kind = "bogus" // what newFolderSource refuses
	base, _ := settledGoroutines(0)
	gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
	if err == nil {
		gw.Shutdown(context.Background())
		t.Fatal("newGateway accepted an unknown folder kind")
	}
	if n, stacks := settledGoroutines(base); n > base {
		t.Fatalf("%d goroutines after newGateway failed, %d before:\n%s", n, base, stacks)
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatalf("queue still locked: %v", err)
	}
	q.Close(context.Background())
}

// TestScheduledJobPanicKeepsGatewayUp: a scheduled job that panics (a bug
// in retention, the certificate check or a folder rescan) is logged and
// the gateway goes on taking messages. gocron recovers a job's panic only
// when the job has a panic listener; without one the panic ended the
// process, and since the housekeeping jobs run at every start, the
// service manager's restarts would have crashed again and again.
func TestScheduledJobPanicKeepsGatewayUp(t *testing.T) {
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, t.TempDir())
	var logs lockedBuffer
	gw, err := newGateway(cfg, newLogger(&logs, "info"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	if _, err := gw.sched.NewJob(gocron.OneTimeJob(gocron.OneTimeJobStartImmediately()),
		gocron.NewTask(func() { var m map[string]int; m["x"]++ }), gocron.WithName("buggy")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the panic in the log", func() bool { return strings.Contains(logs.String(), "scheduled job panicked") })
	if l := logs.String(); !strings.Contains(l, "job=buggy") || !strings.Contains(l, "assignment to entry in nil map") {
		t.Errorf("log does not name the job and the panic:\n%s", l)
	}
	conn, rd := dial(t, gw)
	if got := send(t, conn, rd, adt(1)); got != "AA" {
		t.Fatalf("after the panic: MSA-1 %s, want AA", got)
	}
}

// TestGatewayRunsHousekeepingAtStart: the running gateway's scheduler
// (not a direct call) prunes a done/ folder past retention and checks the
// certificates when it starts, and Shutdown stops it with the gateway.
func TestGatewayRunsHousekeepingAtStart(t *testing.T) {
	paths, _, url := testPKI(t)
	drop := t.TempDir()
	old := filepath.Join(drop, ".ferry", "done", time.Now().AddDate(0, 0, -45).Format(time.DateOnly))
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - name: drop
      kind: ehr
      path: %q
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
`, t.TempDir(), drop, url, paths.CA, paths.ClientCert, paths.ClientKey)
	cfg.Exchange.TLS.CertFile = filepath.Join(t.TempDir(), "missing.pem")
	var logs lockedBuffer
	gw, err := newGateway(cfg, newLogger(&logs, "info"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retention and the certificate check", func() bool {
		_, err := os.Stat(old)
		return os.IsNotExist(err) && strings.Contains(logs.String(), "certificate cannot be read")
	})
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
