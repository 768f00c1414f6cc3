package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
)

// TestRetentionStuckPlaceDelaysOnlyItself: a done/ folder on a file
// server that stopped answering (its listing blocks) held the retention
// pass, which walked the folders in turn, so the folder after it was not
// pruned, and with the job in singleton mode no later pass ran either.
// Each place is pruned on its own now: the other folder is pruned while
// the first hangs, the next pass skips the hung one (no second goroutine
// on it) with a WARN naming it, and `ferry status` shows it.
func TestRetentionStuckPlaceDelaysOnlyItself(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().AddDate(0, 0, -40).Format(time.DateOnly)
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	var days []string
	for _, name := range []string{"share", "local"} {
		watched := filepath.Join(dir, name)
		day := filepath.Join(watched, ".ferry", "done", old)
		if err := os.MkdirAll(day, 0o700); err != nil {
			t.Fatal(err)
		}
		days = append(days, day)
		f := config.Folder{}
		f.Name = name
		f.Path = watched
		cfg.Sources.Folders = append(cfg.Sources.Folders, f)
	}

	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // a failed test leaves no pass held
	var mu sync.Mutex
	entered := map[string]int{} // place -> how many passes entered it
	hook := func(place string) {
		mu.Lock()
		entered[place]++
		mu.Unlock()
		if place == "share" {
			<-release // the file server does not answer
		}
	}
	testHookPrune.Store(&hook)
	t.Cleanup(func() { testHookPrune.Store(nil) })

	var logs lockedBuffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info")}
	first := make(chan struct{})
	go func() { defer close(first); g.pruneDelivered(context.Background()) }()
	waitFor(t, "the folder after the hung one pruned", func() bool {
		_, err := os.Stat(days[1])
		g.pruneMu.Lock()
		_, busy := g.pruning["local"]
		g.pruneMu.Unlock()
		return os.IsNotExist(err) && !busy
	})

	// The next pass, while the first is still held on "share".
	g.pruneDelivered(context.Background())
	mu.Lock()
	if n := entered["share"]; n != 1 {
		t.Errorf("the hung folder was entered %d times, want 1 (no second goroutine on it)", n)
	}
	if n := entered["local"]; n != 2 {
		t.Errorf("the other folder was pruned in %d passes, want 2", n)
	}
	mu.Unlock()
	l := logs.String()
	if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "retention") || !strings.Contains(l, "source=share") {
		t.Errorf("no WARN naming the hung folder:\n%s", l)
	}
	st := &ops.Status{Now: time.Now(), RetentionStuck: g.retentionStuck()}
	var out bytes.Buffer
	ops.PrintStatus(&out, st)
	if !strings.Contains(out.String(), "RETENTION STUCK:") || !strings.Contains(out.String(), "share") {
		t.Errorf("ferry status does not name the hung folder:\n%s", out.String())
	}

	unblock()
	<-first
	if _, err := os.Stat(days[0]); !os.IsNotExist(err) {
		t.Errorf("the hung folder's old day was not pruned once it answered: %v", err)
	}
	if s := g.retentionStuck(); len(s) != 0 {
		t.Errorf("still shown stuck after its pass ended: %v", s)
	}
}
