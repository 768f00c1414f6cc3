package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/queuetest"
)

// TestQueueStopExitsService runs the gateway as the service does
// (program.Start) and makes its queue stop for real: the message that
// meets the failure gets AR, and the service shuts the gateway down and
// exits with status 1, so that the service manager restarts it; the
// restart (a reopen) finds the queue intact.
func TestQueueStopExitsService(t *testing.T) {
	dataDir := t.TempDir()
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, dataDir)
	var logs lockedBuffer
	exited := make(chan int, 1)
	p := &program{cfg: cfg, log: newLogger(&logs, "info"), exit: func(code int) { exited <- code }}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stopGateway() })
	gw := p.gw

	conn, rd := dial(t, gw)
	if code := send(t, conn, rd, adt(1)); code != "AA" {
		t.Fatalf("first message: %s, want AA", code)
	}
	// The default configuration delivers into the outbox: wait until the
	// first message is delivered and its ack is on disk, so that the
	// failure below meets the second message and not the dispatcher's
	// ack (which would stop the queue before the message is even read:
	// the connection then closes unanswered, the sender sends again).
	deadline := time.Now().Add(30 * time.Second)
	for gw.q.Stats().Depth != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("first message not delivered: %+v", gw.q.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := gw.q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(cfg.Path("queue"), "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no queue segment: %v", err)
	}
	healthy := queuetest.SetImmutable(t, segs[len(segs)-1])
	if code := send(t, conn, rd, adt(2)); code != "AR" {
		t.Fatalf("message meeting the failure: %s, want AR (not stored, send again)", code)
	}
	conn.Close()

	select {
	case code := <-exited:
		if code != 1 {
			t.Fatalf("exit status %d, want 1", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the service did not exit after the queue stopped:\n%s", logs.String())
	}
	l := logs.String()
	for _, want := range []string{"queue stopped after a failed fsync", "restarting recovers by replaying the log", "exiting with status 1"} {
		if !strings.Contains(l, want) {
			t.Fatalf("log lacks %q:\n%s", want, l)
		}
	}
	select {
	case <-gw.Done():
	default:
		t.Fatal("gateway not shut down before the exit")
	}

	// The restart: replay finds the first message, and nothing damaged.
	healthy()
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	if s := q.Stats(); s.Corrupt != 0 || s.Depth+s.DeadLetters > 1 {
		t.Fatalf("after the restart: %+v", s)
	}
}

// TestQueueFailureReported checks that a queue failure shows on the
// status page, in /metrics and in `ferry status`, and reaches Fatal.
func TestQueueFailureReported(t *testing.T) {
	dataDir := t.TempDir()
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, dataDir)
	gw := runGateway(t, cfg)
	conn, rd := dial(t, gw)
	if code := send(t, conn, rd, adt(1)); code != "AA" {
		t.Fatalf("first message: %s, want AA", code)
	}
	segs, _ := filepath.Glob(filepath.Join(cfg.Path("queue"), "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no queue segment")
	}
	queuetest.SetImmutable(t, segs[len(segs)-1])
	if code := send(t, conn, rd, adt(2)); code != "AR" {
		t.Fatalf("message meeting the failure: %s, want AR", code)
	}
	select {
	case err := <-gw.Fatal():
		if !strings.Contains(err.Error(), "queue stopped") {
			t.Fatalf("fatal error: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no fatal error after the queue stopped")
	}
	r := gw.report()
	if r.Queue.WriteErrors < 1 || r.Queue.LastWriteError == "" || r.Queue.Stopped == "" {
		t.Fatalf("queue figures: %+v", r.Queue)
	}
	var metrics, status, page strings.Builder
	writeMetrics(&metrics, r)
	for _, want := range []string{"\nferry_queue_write_errors_total ", "\nferry_queue_stopped 1\n", "\nferry_queue_last_write_error_timestamp_seconds "} {
		if !strings.Contains(metrics.String(), want) {
			t.Fatalf("metrics lack %q:\n%s", want, metrics.String())
		}
	}
	r.Online = true
	ops.PrintStatus(&status, &r)
	if !strings.Contains(status.String(), "failed writes:") || !strings.Contains(status.String(), "QUEUE STOPPED:") {
		t.Fatalf("ferry status:\n%s", status.String())
	}
	if err := statusTmpl.Execute(&page, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `id="queue-write-errors"`) || !strings.Contains(page.String(), `id="queue-stopped"`) {
		t.Fatalf("status page lacks the queue failure:\n%s", page.String())
	}
	if strings.Contains(metrics.String()+status.String()+page.String(), "Doe") {
		t.Fatal("PHI in the status output")
	}
}
