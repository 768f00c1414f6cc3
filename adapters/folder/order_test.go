package folder

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// digitRank ranks "1-x", "2-x", ... by their digit; other names are 0.
func digitRank(name string) int {
	if len(name) > 1 && name[0] >= '1' && name[0] <= '9' && name[1] == '-' {
		return int(name[0] - '0')
	}
	return 0
}

// placeFiles moves files into dir all at once, each with its own
// modification time, so that the engine finds them in one pass.
func placeFiles(t *testing.T, dir string, names []string, base time.Time) {
	t.Helper()
	stage := t.TempDir()
	for i, n := range names {
		p := filepath.Join(stage, n)
		writeFile(t, p, []byte("content of "+n))
		at := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
}

func namesOf(calls []got) string {
	var out []string
	for _, c := range calls {
		out = append(out, c.raw.Name)
	}
	return strings.Join(out, ",")
}

// TestRankOrdersASetKeepingOthersInPlace: with WithRank the ranked files
// that are ready together are taken lowest rank first, in the places
// their time order gave ranked files; every other file keeps its place.
// Without it, time order alone, as before.
func TestRankOrdersASetKeepingOthersInPlace(t *testing.T) {
	names := []string{"a.hl7", "3-obs", "b.hl7", "1-pat", "c.hl7", "2-enc"} // oldest first
	base := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		opts []Option
		want string
	}{
		{nil, "a.hl7,3-obs,b.hl7,1-pat,c.hl7,2-enc"},
		{[]Option{WithRank(digitRank)}, "a.hl7,1-pat,b.hl7,2-enc,c.hl7,3-obs"},
	} {
		dir := t.TempDir()
		placeFiles(t, dir, names, base)
		rec := &recorder{}
		startEngine(t, testConfig(dir), rec, c.opts...)
		waitFor(t, "all consumed", func() bool { return rec.count() == len(names) })
		if got := namesOf(rec.all()); got != c.want {
			t.Errorf("with %d option(s): taken %s, want %s", len(c.opts), got, c.want)
		}
	}
}

// TestRankWaitsForRetry: a ranked file waits while a file of a lower rank
// waits in processing/ for another try (the queue was full), so the
// set's order holds across a transient failure too.
func TestRankWaitsForRetry(t *testing.T) {
	dir := t.TempDir()
	placeFiles(t, dir, []string{"2-obs", "1-pat"}, time.Now().Add(-time.Hour))
	failed := false
	rec := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		if in.Name == "1-pat" && !failed {
			failed = true
			return errors.New("queue is full")
		}
		return nil
	}}
	e := startEngine(t, testConfig(dir), rec, WithRank(digitRank))
	waitFor(t, "2-obs done", doneHas(t, e, "2-obs"))
	if got := namesOf(rec.all()); got != "1-pat,1-pat,2-obs" {
		t.Errorf("taken %s, want 1-pat (failed), 1-pat, then 2-obs", got)
	}
}

// TestRankWaitIsBounded: a file of a lower rank that never becomes ready
// (here its marker is never written) held the rest of its set in the
// folder for ever, with nothing in the log. A ranked file now waits for
// it at most rankLimit, is then taken, and the log says so (without the
// file's name).
func TestRankWaitIsBounded(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MarkerSuffix = ".done"
	placeFiles(t, dir, []string{"1-pat", "2-obs", "2-obs.done"}, time.Now().Add(-time.Hour))
	rec := &recorder{}
	logs := &logBuffer{}
	e, err := New(adapters.Settings{ID: "folder/" + cfg.Name, Logger: slog.New(slog.NewTextHandler(logs, nil))}, cfg, rec,
		WithRank(digitRank), withRankLimit(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	waitFor(t, "2-obs taken after the limit", func() bool {
		e.Rescan()
		return rec.count() == 1
	})
	if got := namesOf(rec.all()); got != "2-obs" {
		t.Errorf("taken %s, want 2-obs alone (1-pat has no marker)", got)
	}
	if l := logs.String(); !strings.Contains(l, "taken before a file of an earlier type") || strings.Contains(l, "2-obs") {
		t.Errorf("log %q: want the warning, without the file name", l)
	}
}

func withRankLimit(d time.Duration) Option { return func(e *Engine) { e.rankLimit = d } }
