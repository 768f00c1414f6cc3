package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
)

// TestRetentionLogSaysWhatItRemoved: the retention pass logged
// "removed delivered files count=N" with N the dated done/ folders it
// removed (plus the outbox files), so a day of 300 faxes removed read as
// one file. It says how many dated folders, and how many outbox files.
func TestRetentionLogSaysWhatItRemoved(t *testing.T) {
	dir := t.TempDir()
	watched := filepath.Join(dir, "drop")
	done := filepath.Join(watched, ".ferry", "done")
	for i := range 2 {
		day := filepath.Join(done, time.Now().AddDate(0, 0, -40-i).Format(time.DateOnly))
		if err := os.MkdirAll(day, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"a.pdf", "b.pdf", "c.pdf"} {
			if err := os.WriteFile(filepath.Join(day, f), []byte("%PDF-"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Retention.Outbox = 30 * 24 * time.Hour
	cfg.Sources.Folders = []config.Folder{{}}
	cfg.Sources.Folders[0].Name = "drop"
	cfg.Sources.Folders[0].Path = watched
	out := filepath.Join(cfg.DataDir, "outbox")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(out, "01J5Z8Q4V7R2M3N6P9T0W1X2Y3.json")
	if err := os.WriteFile(bundle, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().AddDate(0, 0, -40)
	if err := os.Chtimes(bundle, old, old); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info")}
	g.pruneDelivered(context.Background())
	if s := logs.String(); !strings.Contains(s, "done_folders=2") || !strings.Contains(s, "outbox_files=1") {
		t.Errorf("the pass did not say what it removed (2 dated folders, 1 outbox file):\n%s", s)
	}
}
