package folder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPruneStopsAtShutdown: the daily retention pass held the running
// folder's roots for all of its pass, and Shutdown waits for them before
// it closes them, so a service stop during a long pass (the first one
// over years of done/ on the clinic's file server) waited for the pass
// to end: the stop used up its whole deadline (then delivery and the
// audit trail had none left) and ended with "context deadline exceeded".
// The pass now works through a handle of its own, so Shutdown does not
// wait for it, and stops at the next file once the folder stops; what it
// left is removed by the next pass.
func TestPruneStopsAtShutdown(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir), &recorder{})
	waitPasses(t, e, 1)
	done := e.Paths().Done
	var days []string
	for i := range 3 {
		day := time.Now().AddDate(0, 0, -40-i).Format(time.DateOnly)
		days = append(days, day)
		for _, f := range []string{"a.hl7", "b.hl7", "c.hl7"} {
			if err := os.MkdirAll(filepath.Join(done, day), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(done, day, f), []byte("MSH|"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The pass is held at its listing of done/ until the stop has ended
	// (or given up).
	listing, stopped := make(chan struct{}), make(chan struct{})
	hook := func(p place) {
		if filepath.Join(p.root.Name(), p.dir) != filepath.Clean(done) {
			return
		}
		close(listing)
		<-stopped
	}
	testHookReadDir.Store(&hook)
	t.Cleanup(func() { testHookReadDir.Store(nil) })
	pruned := make(chan error, 1)
	go func() {
		_, err := e.PruneDone(context.Background(), time.Now().AddDate(0, 0, -30))
		pruned <- err
	}()
	<-listing
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.Shutdown(ctx)
	testHookReadDir.Store(nil)
	close(stopped)
	if err != nil {
		t.Fatalf("the stop waited for the retention pass: %v", err)
	}
	if err := <-pruned; !errors.Is(err, context.Canceled) {
		t.Errorf("the pass went on after the stop: %v", err)
	}

	// The next pass (the next start's) removes what this one left.
	n, err := PruneDoneOf(context.Background(), e.Config(), time.Now().AddDate(0, 0, -30))
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range days {
		if _, err := os.Stat(filepath.Join(done, day)); err == nil {
			t.Errorf("%s kept by the next pass (%d removed)", day, n)
		}
	}
}

// TestPruneStopsWhenCancelled: a pass by path (the one at the gateway's
// start, before its folders run) ends at the next file once its context
// ends (the scheduler stopping), rather than hold up the stop.
func TestPruneStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	paths, err := cfg.ResolvePaths()
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().AddDate(0, 0, -40).Format(time.DateOnly)
	if err := os.MkdirAll(filepath.Join(paths.Done, day), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(paths.Done, day, "a.hl7"), []byte("MSH|"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := PruneDoneOf(ctx, cfg, time.Now().AddDate(0, 0, -30)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled pass: %v", err)
	}
	if _, err := os.Stat(filepath.Join(paths.Done, day, "a.hl7")); err != nil {
		t.Errorf("a cancelled pass removed files: %v", err)
	}

	// A pass that runs removes the dated folder, and a link in it, never
	// what the link names.
	other := filepath.Join(t.TempDir(), "theirs")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "ledger.csv"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(paths.Done, day, "link")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if n, err := PruneDoneOf(context.Background(), cfg, time.Now().AddDate(0, 0, -30)); n != 1 || err != nil {
		t.Errorf("pass removed %d (%v), want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(paths.Done, day)); err == nil {
		t.Errorf("%s kept", day)
	}
	if _, err := os.Stat(filepath.Join(other, "ledger.csv")); err != nil {
		t.Errorf("the pass followed a link out of done/: %v", err)
	}
}
