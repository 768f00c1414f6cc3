package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRunProcessHangup: `ferry run` in a terminal whose session ends (ssh
// closed: SIGHUP) stops cleanly, as for Ctrl-C, with "ferry stopped" in
// its log and status 0. SIGHUP was not handled, so Go's default ended the
// process where it stood: messages half-read, the audit trail's events in
// memory lost, and no line in the log to say it had stopped.
func TestRunProcessHangup(t *testing.T) {
	if signal.Ignored(syscall.SIGHUP) {
		t.Skip("started with SIGHUP ignored (nohup), as the child would be")
	}
	dir := t.TempDir()
	cfgFile := writeFile(t, filepath.Join(dir, "ferry.yaml"), `
data_dir: %q
status: {listen: ""}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, filepath.Join(dir, "data"))
	p := startFerry(t, cfgFile)
	if got := p.send(t, adt(1)); got != "AA" {
		t.Fatalf("MSA-1 %s", got)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit status %d after SIGHUP, want 0:\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "ferry stopped") {
		t.Fatalf("no clean stop after SIGHUP:\n%s", p.stderr.String())
	}
}

// TestServiceHangupIgnored: the service (no terminal) does not stop on
// SIGHUP, which administrators send out of habit to make a daemon reload
// its configuration (kill -HUP, a logrotate postrotate): ferry reads its
// configuration only when it starts, and says so in the log. Go's default
// ended the process, and systemd counts a death by SIGHUP as a clean exit
// that Restart=on-failure does not restart: the gateway stayed down.
func TestServiceHangupIgnored(t *testing.T) {
	if signal.Ignored(syscall.SIGHUP) {
		t.Skip("started with SIGHUP ignored (nohup)")
	}
	old := runsInteractive
	runsInteractive = func() bool { return false }
	t.Cleanup(func() { runsInteractive = old })
	dir := t.TempDir()
	logFile := filepath.Join(dir, "ferry.log")
	cfgFile := writeFile(t, filepath.Join(dir, "ferry.yaml"), `
data_dir: %q
status: {listen: ""}
log: {file: %q}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, filepath.Join(dir, "data"), logFile)
	logged := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- cmdRun(ctx, []string{"--config", cfgFile}, io.Discard, io.Discard) }()
	waitFor(t, "the service's start", func() bool { return strings.Contains(logged(), "ferry started") })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SIGHUP's note", func() bool { return strings.Contains(logged(), "SIGHUP") })
	select {
	case err := <-ran:
		t.Fatalf("the service stopped on SIGHUP: %v\n%s", err, logged())
	default:
	}
	if strings.Contains(logged(), "ferry stopped") {
		t.Fatalf("the service stopped on SIGHUP:\n%s", logged())
	}
	stop() // what the service manager's SIGTERM does
	if err := <-ran; err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !strings.Contains(logged(), "ferry stopped") {
		t.Fatalf("no clean stop:\n%s", logged())
	}
}
