package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
)

// TestLogRotationWhileViewerHoldsFile: on Windows a file open without
// FILE_SHARE_DELETE (a log viewer, Notepad++, PowerShell's Get-Content
// -Wait, a monitoring agent reading the log) cannot be renamed, so the
// rotation at log.max_size_mb fails. Every line from then on was lost
// (the rotation was tried again before each one and failed each time),
// until the viewer let go. The lines go on into the file meanwhile, and
// it is rotated once it can be.
func TestLogRotationWhileViewerHoldsFile(t *testing.T) {
	defer func(d time.Duration) { logRotateRetry = d }(logRotateRetry)
	logRotateRetry = 0 // try the rotation again at each line
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.log")
	cfg := &config.Config{}
	cfg.Log.MaxSizeMB, cfg.Log.MaxFiles = 1, 5
	w, closeLog, err := openLogOutput(cfg, path, &bytes.Buffer{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	log := newLogger(w, "info")
	pad := strings.Repeat("x", 1000)
	n := 0
	line := func() {
		log.Info("line", "n", n, "pad", pad)
		n++
	}
	line()
	viewer, err := os.Open(path) // shares reading and writing, not deletion
	if err != nil {
		t.Fatal(err)
	}
	for range 1500 { // about 1.5 MB: past the 1 MiB rotation
		line()
	}
	if backups, _ := filepath.Glob(filepath.Join(dir, "ferry-*.log")); len(backups) != 0 {
		t.Fatalf("rotated %v while a viewer held the file", backups)
	}
	viewer.Close()
	for range 100 {
		line()
	}
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	backups, _ := filepath.Glob(filepath.Join(dir, "ferry-*.log"))
	if len(backups) != 1 {
		t.Errorf("rotated files %v once the viewer let go, want 1", backups)
	}
	var all []byte
	for _, f := range append(backups, path) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	var lost []int
	for i := range n {
		if !bytes.Contains(all, fmt.Appendf(nil, " n=%d ", i)) {
			lost = append(lost, i)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d lines lost (from line %d)", len(lost), n, lost[0])
	}
}
