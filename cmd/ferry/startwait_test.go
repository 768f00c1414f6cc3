package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartWaitsUntilReady: `ferry start` said "start done (running)" as
// soon as the service manager had launched the process, before the
// gateway had opened its queue or bound a port, and also for a gateway
// that then failed to start (a port in use) and exited. It now waits for
// the status page's /readyz: ready, the service stopped again (it did not
// start: the log says why), or not ready in time, naming what is not.
func TestStartWaitsUntilReady(t *testing.T) {
	old := folderStartRetry
	folderStartRetry = 50 * time.Millisecond
	t.Cleanup(func() { folderStartRetry = old })
	root := t.TempDir()
	ehr := filepath.Join(root, "exports")
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - {name: ehr, kind: ehr, path: %q}
`, filepath.Join(root, "data"), ehr)
	cfg.Status.Listen = "127.0.0.1:0"
	gw := runGateway(t, cfg)
	own := *cfg
	own.Status.Listen = gw.statusAddr.String()
	running := func() bool { return false }
	err := waitReady(context.Background(), &own, 300*time.Millisecond, running)
	if err == nil || !strings.Contains(err.Error(), "not ready") || !strings.Contains(err.Error(), "folder/ehr not started") {
		t.Errorf("a folder source not started: %v", err)
	}
	if err := os.MkdirAll(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := waitReady(context.Background(), &own, 20*time.Second, running); err != nil {
		t.Errorf("ready gateway: %v", err)
	}
	// The service manager reports the service stopped: its start failed.
	gone := own
	gone.Status.Listen = freeAddr(t)
	err = waitReady(context.Background(), &gone, 20*time.Second, func() bool { return true })
	if err == nil || !strings.Contains(err.Error(), "stopped again") {
		t.Errorf("a service that stopped again: %v", err)
	}
}
