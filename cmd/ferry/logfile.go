package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/kardianos/service"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/ferry-health/ferry/config"
)

// logFile returns the file the gateway logs to, "" for standard error:
// log.file, or, for a Windows service, which has no standard error anyone
// reads, the default under the data folder.
func logFile(cfg *config.Config, interactive bool, goos string) string {
	if cfg.Log.File != "" {
		return cfg.Log.File
	}
	if !interactive && goos == "windows" {
		return cfg.DefaultServiceLogFile()
	}
	return ""
}

// openLogOutput returns where the gateway's log goes. With a file, that
// is the file, rotated at log.max_size_mb with log.max_files kept, plus
// standard error when ferry runs in a terminal (so `ferry run` still shows
// what it does). The file is opened once here, so that a folder the
// account cannot write to is an error at start, naming the file, rather
// than a log that silently stays empty. close releases the file.
func openLogOutput(cfg *config.Config, path string, stderr io.Writer, interactive bool) (w io.Writer, close func() error, err error) {
	if path == "" {
		return stderr, func() error { return nil }, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("log.file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log.file: cannot write the log: %w", err)
	}
	f.Close()
	lf := &logFileWriter{lj: &lumberjack.Logger{
		Filename:   path,
		MaxSize:    cfg.Log.MaxSizeMB,
		MaxBackups: cfg.Log.MaxFiles,
	}}
	w = lf
	if interactive {
		// The file first, and a terminal that went away (a closed ssh
		// session) must not stop the lines reaching it.
		w = io.MultiWriter(lf, bestEffort{stderr})
	}
	return w, lf.Close, nil
}

// logRotateRetry is how long the log is appended to its file as it is
// after a rotation failed, before the rotation is tried again. A
// variable for the tests.
var logRotateRetry = time.Minute

// logReopenCheck is how often the log file is looked for at its path: a
// variable for the tests.
var logReopenCheck = time.Second

// logFileWriter is the rotated log file. A rotation that fails (on
// Windows, a viewer or monitoring agent that holds the file open without
// FILE_SHARE_DELETE, so that it cannot be renamed) made lumberjack refuse
// the line, and every line after it, each trying the rotation again,
// until whoever held the file let go: the log stopped without a word.
// The lines go on into the file as it is meanwhile, past
// log.max_size_mb, and the rotation is tried again every logRotateRetry.
//
// A file removed while ferry writes it (its folder deleted to free space,
// a clean-up script) took the lines into a file nobody could read, whose
// space was not freed, until the next rotation, weeks away at info: every
// logReopenCheck the file is looked for, and one that is gone is made
// again, its folder too (0750).
type logFileWriter struct {
	mu      sync.Mutex
	lj      *lumberjack.Logger
	f       *os.File  // the file appended to while it cannot be rotated
	retryAt time.Time // when to try the rotation again
	checkAt time.Time // when to look for the file at its path again
}

func (l *logFileWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); !now.Before(l.checkAt) {
		l.checkAt = now.Add(logReopenCheck)
		if _, err := os.Stat(l.lj.Filename); errors.Is(err, fs.ErrNotExist) {
			// lumberjack makes a folder 0755: this one first.
			os.MkdirAll(filepath.Dir(l.lj.Filename), 0o750)
			l.lj.Close()
			if l.f != nil {
				l.f.Close()
				l.f = nil
			}
		}
	}
	if l.f != nil && time.Now().Before(l.retryAt) {
		return l.f.Write(p)
	}
	if l.f != nil {
		// Ours must not be what keeps the file from being renamed.
		l.f.Close()
		l.f = nil
	}
	n, err := l.lj.Write(p)
	if err == nil {
		return n, nil
	}
	f, ferr := os.OpenFile(l.lj.Filename, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if ferr != nil {
		return n, err
	}
	l.f, l.retryAt = f, time.Now().Add(logRotateRetry)
	return l.f.Write(p)
}

// Close closes the file.
func (l *logFileWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	return l.lj.Close()
}

// crashFile is where a service's crash report goes, beside its log file
// path: ferry.log gives ferry.crash.log (the rotated logs are
// ferry-<time>.log).
func crashFile(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".crash" + ext
}

// crashToFile makes the runtime write a crash's report (a panic no code
// recovers, a fatal runtime error, with the stack where it failed) to
// crashFile(path) as well as to standard error, which a Windows service
// has nowhere: a service the Service Control Manager restarted after a
// crash, again and again if it repeats, left no reason anywhere. The file
// is opened once, 0600 as the log is, and written only at a crash.
func crashToFile(path string) error {
	f, err := os.OpenFile(crashFile(path), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close() // the runtime keeps a duplicate of the descriptor
	return debug.SetCrashOutput(f, debug.CrashOptions{})
}

// bestEffort writes to w and reports success whatever w says.
type bestEffort struct{ w io.Writer }

func (b bestEffort) Write(p []byte) (int, error) {
	_, _ = b.w.Write(p)
	return len(p), nil
}

// withSystemLog adds the service manager's own log to h for records at
// ERROR and above: on Windows that is the Application event log, which is
// where administrators, and the monitoring agents IT contractors run,
// look for a failing service. Lower levels stay in ferry's own log only.
// The records are formatted as the file's lines are, so PHI gating (done
// where the attributes are chosen) holds there too.
func withSystemLog(h slog.Handler, sys service.Logger) slog.Handler {
	if sys == nil {
		return h
	}
	ev := slog.NewTextHandler(eventWriter{sys}, &slog.HandlerOptions{Level: slog.LevelError, ReplaceAttr: plainPathAttrs()})
	return slog.NewMultiHandler(h, ev)
}

// eventWriter hands each record the text handler writes (one Write per
// record) to the service logger as one error event.
type eventWriter struct{ sys service.Logger }

func (e eventWriter) Write(p []byte) (int, error) {
	if err := e.sys.Error(strings.TrimRight(string(p), "\n")); err != nil {
		return 0, err
	}
	return len(p), nil
}
