package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"
)

// TestServiceStartFailureInEventLog: a Windows service whose start ends
// before the gateway has a log of its own (a configuration that does not
// load, a log file it cannot write) says why in the Application event
// log. The reason went to standard error only, which a Windows service
// has nowhere: after an edit of ferry.yaml and `ferry restart` the
// administrator found "the service terminated unexpectedly" from the
// Service Control Manager and nothing from ferry, neither in the event
// log nor in data_dir\\logs\\ferry.log, against README's "the Application
// event log for errors".
func TestServiceStartFailureInEventLog(t *testing.T) {
	ev := &eventLog{}
	oldI, oldS := runsInteractive, systemLogger
	runsInteractive = func() bool { return false }
	systemLogger = func(interactive bool, _ string) service.Logger {
		if interactive {
			return nil
		}
		return ev
	}
	t.Cleanup(func() { runsInteractive, systemLogger = oldI, oldS })

	dir := t.TempDir()
	bad := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(bad, []byte("data_dir: "+filepath.Join(dir, "data")+"\nsources:\n  mllp:\n    - {name: lab, listne: 0.0.0.0:2575}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmdRun(context.Background(), []string{"--config", bad}, io.Discard, io.Discard); err == nil {
		t.Fatal("ran with a configuration that does not load")
	}
	if len(ev.errors) != 1 || !strings.Contains(ev.errors[0], "ferry did not start") || !strings.Contains(ev.errors[0], "listne") {
		t.Fatalf("event log: %q, want the configuration's error", ev.errors)
	}

	// A log file the service cannot write.
	ev.errors = nil
	blocker := filepath.Join(dir, "not-a-folder")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "ferry2.yaml")
	if err := os.WriteFile(good, []byte("data_dir: "+filepath.Join(dir, "data")+"\nlog: {file: "+filepath.Join(blocker, "ferry.log")+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmdRun(context.Background(), []string{"--config", good}, io.Discard, io.Discard); err == nil {
		t.Fatal("ran with a log file it cannot write")
	}
	if len(ev.errors) != 1 || !strings.Contains(ev.errors[0], "ferry did not start") || !strings.Contains(ev.errors[0], "log.file") {
		t.Fatalf("event log: %q, want the log file's error", ev.errors)
	}
}
