package folder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// TestRetryingFileRemovedIsForgotten checks that a file waiting in
// processing/ for another attempt, which the operator then takes away (to
// fix it, or because it was sent by hand), stops counting as retrying: the
// status page's Retrying and Oldest waiting figures must not report it,
// and grow older, for the rest of the run.
func TestRetryingFileRemovedIsForgotten(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{fn: func(context.Context, int, adapters.Raw) error { return errors.New("exchange down") }}
	cfg := testConfig(dir)
	cfg.RetryInitial, cfg.RetryMax = time.Hour, time.Hour
	e := startEngine(t, cfg, rec)
	dropFile(t, dir, "a.xml", []byte("<a/>"))
	waitFor(t, "a retrying file", func() bool { return e.Stats().Retrying == 1 })
	if err := os.Remove(filepath.Join(e.Paths().Processing, "a.xml")); err != nil {
		t.Fatal(err)
	}
	waitPasses(t, e, 2)
	if st := e.Stats(); st.Retrying != 0 || !st.OldestWaiting.IsZero() {
		t.Errorf("after the retrying file was removed: retrying %d, oldest waiting %v; want 0 and none", st.Retrying, st.OldestWaiting)
	}
}
