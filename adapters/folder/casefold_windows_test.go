package folder

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// TestClaimDoesNotReplaceOtherCaseInProcessing: LAB.hl7 waits in
// processing/ (the queue is full) when the sender writes lab.hl7, names
// that Windows takes for one. The check that no input of the new file's
// stem waits in processing/ compared stems exactly, "lab" against "LAB",
// so lab.hl7 was claimed, and its move into processing/ replaced LAB.hl7
// there (a rename replaces the file of that name, in any case): LAB.hl7,
// not yet queued, was lost without a trace. The new file waits until the
// one in processing/ has left, as one of the very same name does.
func TestClaimDoesNotReplaceOtherCaseInProcessing(t *testing.T) {
	dir := t.TempDir()
	var (
		full     atomic.Bool
		qmu      sync.Mutex
		accepted []string
	)
	full.Store(true)
	rec := &recorder{}
	rec.fn = func(_ context.Context, n int, _ adapters.Raw) error {
		if full.Load() {
			return errors.New("queue full")
		}
		qmu.Lock()
		accepted = append(accepted, string(rec.all()[n].body))
		qmu.Unlock()
		return nil
	}
	set := adapters.Settings{ID: "folder/test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e, err := New(set, testConfig(dir), rec)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		ready []string
	)
	e.testHookReady = func(name string) {
		mu.Lock()
		ready = append(ready, name)
		mu.Unlock()
	}
	if err := e.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	dropFile(t, dir, "LAB.hl7", []byte("MSH|first"))
	waitFor(t, "LAB.hl7 tried", func() bool { e.Rescan(); return rec.count() >= 1 })
	dropFile(t, dir, "lab.hl7", []byte("MSH|second"))
	waitFor(t, "lab.hl7 ready", func() bool {
		e.Rescan()
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(ready, "lab.hl7")
	})
	waitPasses(t, e, 1) // the pass that found it ready has ended
	full.Store(false)
	// Awaited, not read once the folders look empty: a file between the
	// folder and processing/ (or between processing/ and done/) is in
	// neither, and under Wine that moment was seen to satisfy an
	// emptiness check before lab.hl7 was handed on.
	both := func() bool {
		qmu.Lock()
		defer qmu.Unlock()
		return slices.Contains(accepted, "MSH|first") && slices.Contains(accepted, "MSH|second")
	}
	deadline := time.Now().Add(20 * time.Second)
	for !both() {
		if time.Now().After(deadline) {
			qmu.Lock()
			defer qmu.Unlock()
			t.Fatalf("queued %q, want both LAB.hl7 (MSH|first) and lab.hl7 (MSH|second)", accepted)
		}
		e.Rescan()
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "processing/ emptied", func() bool {
		e.Rescan()
		proc, err1 := os.ReadDir(e.Paths().Processing)
		folder, err2 := os.ReadDir(dir)
		return err1 == nil && err2 == nil && len(proc) == 0 && len(folder) == 1 // .ferry
	})
}
