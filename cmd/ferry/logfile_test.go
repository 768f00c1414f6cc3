package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
)

// TestRunLogFile: with log.file, `ferry run` writes its log to that file
// (creating the folder), and in a terminal to standard error as well.
func TestRunLogFile(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "logs", "sub", "ferry.log")
	cfgPath := filepath.Join(dir, "ferry.yaml")
	yaml := fmt.Sprintf("data_dir: %q\nlog:\n  level: debug\n  file: %q\nsources:\n  mllp:\n    - name: main\n      listen: 127.0.0.1:0\nstatus:\n  listen: %s\n",
		filepath.Join(dir, "data"), logPath, freeAddr(t))
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() { done <- cmdRun(ctx, []string{"--config", cfgPath}, &stderr, &stderr) }()
	waitFor(t, "log lines in "+logPath, func() bool {
		b, _ := os.ReadFile(logPath)
		return bytes.Contains(b, []byte("level="))
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if !strings.Contains(stderr.String(), first) {
		t.Errorf("a terminal run shows the log too; stderr lacks %q:\n%s", first, stderr.String())
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("log file mode %v (%v), want 0600", fi.Mode().Perm(), err)
		}
	}
}

// TestRunLogFileUnwritable: a log file ferry cannot create stops the start
// with an error naming it, rather than a gateway logging nowhere.
func TestRunLogFileUnwritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-folder")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.Log.MaxSizeMB, cfg.Log.MaxFiles = 1, 1
	path := filepath.Join(blocker, "ferry.log")
	_, _, err := openLogOutput(cfg, path, &bytes.Buffer{}, false)
	if err == nil || !strings.Contains(err.Error(), "log.file") || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("err = %v, want one naming log.file and %s", err, blocker)
	}
}

// TestLogFileRotates: past log.max_size_mb the file is rotated, at most
// log.max_files rotated files are kept, and a terminal-less run writes
// only the file.
func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.log")
	cfg := &config.Config{}
	cfg.Log.MaxSizeMB, cfg.Log.MaxFiles = 1, 2
	var stderr bytes.Buffer
	w, closeLog, err := openLogOutput(cfg, path, &stderr, false)
	if err != nil {
		t.Fatal(err)
	}
	log := newLogger(w, "info")
	pad := strings.Repeat("x", 1000)
	for i := range 4 * 1100 { // about 4.4 MB: four rotations
		log.Info("line", "n", i, "pad", pad)
	}
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() != 0 {
		t.Errorf("a service run wrote %d bytes to stderr", stderr.Len())
	}
	// lumberjack removes surplus backups in the background after a rotation.
	var backups []string
	waitFor(t, "at most 2 rotated files", func() bool {
		backups, _ = filepath.Glob(filepath.Join(dir, "ferry-*.log"))
		return len(backups) == 2
	})
	fi, err := os.Stat(path)
	if err != nil || fi.Size() > 1<<20 {
		t.Fatalf("current log %v (%v), want at most 1 MiB", fi.Size(), err)
	}
	for _, b := range backups {
		fi, err := os.Stat(b)
		if err != nil || fi.Size() > 1<<20 || fi.Size() < 1<<19 {
			t.Errorf("rotated %s: %v bytes (%v)", b, fi.Size(), err)
		}
	}
}

func TestLogFileDefault(t *testing.T) {
	cfg := &config.Config{DataDir: filepath.FromSlash("/srv/ferry/data")}
	if got := logFile(cfg, false, "windows"); got != filepath.Join(cfg.DataDir, "logs", "ferry.log") {
		t.Errorf("windows service: %q", got)
	}
	for _, c := range []struct {
		interactive bool
		goos        string
	}{{true, "windows"}, {false, "linux"}, {true, "linux"}} {
		if got := logFile(cfg, c.interactive, c.goos); got != "" {
			t.Errorf("%+v: %q, want standard error", c, got)
		}
	}
	cfg.Log.File = "/var/log/ferry/ferry.log"
	if got := logFile(cfg, false, "windows"); got != cfg.Log.File {
		t.Errorf("configured file: %q", got)
	}
}

// eventLog records what the service logger is handed.
type eventLog struct {
	mu     sync.Mutex
	errors []string
}

func (e *eventLog) Error(v ...any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errors = append(e.errors, fmt.Sprint(v...))
	return nil
}
func (e *eventLog) Warning(v ...any) error                 { return nil }
func (e *eventLog) Info(v ...any) error                    { return nil }
func (e *eventLog) Errorf(f string, a ...any) error        { return e.Error(fmt.Sprintf(f, a...)) }
func (e *eventLog) Warningf(format string, a ...any) error { return nil }
func (e *eventLog) Infof(format string, a ...any) error    { return nil }

// TestSystemLogErrorsOnly: the event log gets ERROR records, with the
// logger's attributes, and nothing below; ferry's own log gets all.
func TestSystemLogErrorsOnly(t *testing.T) {
	var own bytes.Buffer
	ev := &eventLog{}
	log := slog.New(withSystemLog(newLogger(&own, "info").Handler(), ev)).With("component", "queue")
	log.Info("started")
	log.Warn("slow disk")
	log.Error("queue stopped", "reason", "fsync failed", "at", time.Unix(0, 0).UTC())
	if got := strings.Count(own.String(), "\n"); got != 3 {
		t.Errorf("own log has %d lines, want 3:\n%s", got, own.String())
	}
	if len(ev.errors) != 1 {
		t.Fatalf("event log got %d records, want 1: %q", len(ev.errors), ev.errors)
	}
	for _, want := range []string{"level=ERROR", `msg="queue stopped"`, "component=queue", `reason="fsync failed"`} {
		if !strings.Contains(ev.errors[0], want) {
			t.Errorf("event %q lacks %s", ev.errors[0], want)
		}
	}
	if strings.HasSuffix(ev.errors[0], "\n") {
		t.Errorf("event ends in a newline: %q", ev.errors[0])
	}
}

// TestLogFileRemovedWhileRunning: the log's folder removed while ferry
// runs (`rm -r /var/log/ferry` to free space, a clean-up script) left
// ferry writing into the deleted file, which nobody can read and whose
// space is not freed, until the next rotation at log.max_size_mb, weeks
// away at info; the folder and the file are made again (0750, 0600) and
// the lines go there.
func TestLogFileRemovedWhileRunning(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows does not remove a folder whose file is open")
	}
	defer func(d time.Duration) { logReopenCheck = d }(logReopenCheck)
	logReopenCheck = 0 // look at each line
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "ferry.log")
	cfg := &config.Config{}
	cfg.Log.MaxSizeMB, cfg.Log.MaxFiles = 50, 2
	w, closeLog, err := openLogOutput(cfg, path, &bytes.Buffer{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	log := newLogger(w, "info")
	log.Info("before")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	log.Info("after")
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), `msg=after`) {
		t.Fatalf("log after its folder was removed: %q (%v), want the line", b, err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o750, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s made again with mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
		}
	}
}
