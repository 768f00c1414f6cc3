package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kardianos/service"
)

// TestServiceStopDuringStart: systemd's SIGTERM that arrives while the
// service is still starting (a long queue replay, here a site id file that
// blocks) must stop the service once the start is done. main's
// signal.NotifyContext is registered from the first instruction, while
// kardianos/service only starts listening for signals after Start returns:
// a SIGTERM in between went to main's context, which nothing in the
// service path read, and the service ran on until systemd killed it at
// TimeoutStopSec.
func TestServiceStopDuringStart(t *testing.T) {
	dataDir := t.TempDir()
	fifo := filepath.Join(dataDir, "site-id")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cfg := parseConfig(t, `
data_dir: %q
status: {listen: ""}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, dataDir)
	// What main does before anything else.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var logs lockedBuffer
	prg := &program{cfg: cfg, log: newLogger(&logs, "info"), exit: func(int) {}}
	svc, err := service.New(prg, serviceRunConfig(ctx, ""))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- svc.Run() }()

	// The stop request comes while Start is blocked reading the site id.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("SIGTERM not delivered")
	}
	// The blocked read gets the id; every later one (the gateway reads it
	// again) finds a regular file, put in place before the writer closes.
	id := uuid.NewString() + "\n"
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(id)
	regular := filepath.Join(t.TempDir(), "site-id")
	if err := os.WriteFile(regular, []byte(id), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(regular, fifo); err != nil {
		t.Fatal(err)
	}
	w.Close()

	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("service run: %v", err)
		}
	case <-time.After(20 * time.Second):
		// Free the service goroutine before failing.
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		<-ran
		t.Fatalf("the SIGTERM that came during the start was lost: the service kept running\n%s", logs.String())
	}
	if prg.gw == nil {
		t.Fatalf("the service did not start:\n%s", logs.String())
	}
	select {
	case <-prg.gw.Done():
	default:
		t.Fatal("gateway not shut down")
	}
}
