package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestServiceCrashInLog: a crash of the service (a panic no code
// recovers, a fatal runtime error) is written beside its log file, where
// an administrator looks. The runtime writes the report to standard
// error only, which a Windows service has nowhere: a service the Service
// Control Manager then restarted, again and again if the crash repeats,
// left no reason and no stack to report. The test runs the service in a
// child process (this test binary again) and crashes it there.
func TestServiceCrashInLog(t *testing.T) {
	if dir := os.Getenv("FERRY_TEST_CRASH_DIR"); dir != "" {
		runsInteractive = func() bool { return false }
		cfgFile := filepath.Join(dir, "ferry.yaml")
		go cmdRun(context.Background(), []string{"--config", cfgFile}, io.Discard, io.Discard)
		deadline := time.Now().Add(20 * time.Second)
		for {
			b, _ := os.ReadFile(filepath.Join(dir, "logs", "ferry.log"))
			if strings.Contains(string(b), "ferry started") || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		go func() { panic("a bug nobody recovers") }()
		time.Sleep(10 * time.Second)
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("runs the service in a child process")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the service runs under the Service Control Manager there")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("data_dir: %q\nstatus: {listen: \"\"}\nlog: {file: %q}\nsources:\n  mllp:\n    - {name: t, listen: \"127.0.0.1:0\"}\n",
		filepath.Join(dir, "data"), filepath.Join(dir, "logs", "ferry.log"))
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServiceCrashInLog$")
	cmd.Env = append(os.Environ(), "FERRY_TEST_CRASH_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the service did not crash:\n%s", out)
	}
	if !strings.Contains(string(out), "a bug nobody recovers") {
		t.Fatalf("the child did not crash as planned (%v):\n%s", err, out)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
	var all strings.Builder
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		all.Write(b)
	}
	if !strings.Contains(all.String(), "panic: a bug nobody recovers") || !strings.Contains(all.String(), "goroutine ") {
		t.Fatalf("the crash's report is not beside the log (%v):\n%s", logs, all.String())
	}
}
