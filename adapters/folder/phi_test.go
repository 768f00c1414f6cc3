package folder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// logBuffer is a log sink the engine's goroutines and the test share.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged starts an engine that logs everything, DEBUG included, into
// the returned buffer.
func startLogged(t *testing.T, cfg Config, c adapters.Consumer, logPHI bool) (*Engine, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	set := adapters.Settings{ID: "fax/" + cfg.Name, LogPHI: logPHI,
		Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	e, err := New(set, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return e, lb
}

const phiName = "DOE_JANE_MRN777123_labresults.tif"

// phiConsumer fails the first attempts the way the pipeline does with a
// full queue: an ordinary error that starts with the file name, here also
// with its full path and quoted, then accepts.
func phiConsumer(fails int) *recorder {
	return &recorder{fn: func(_ context.Context, n int, in adapters.Raw) error {
		if n < fails {
			return fmt.Errorf("%s: fax: queue: put item %q (%s, sidecars %s): queue is full",
				in.Name, in.Name, in.Meta[MetaPath], in.Meta[MetaSidecars])
		}
		return nil
	}}
}

func TestLogsHideFileNamesWithoutLogPHI(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Kind = "fax"
	cfg.Sidecars = []string{".json"}
	e, lb := startLogged(t, cfg, phiConsumer(3), false)
	writeFile(t, filepath.Join(dir, "DOE_JANE_MRN777123_labresults.json"), []byte(`{"pages":1}`))
	dropFile(t, dir, phiName, []byte("II*\x00 fax image"))
	waitFor(t, "done", doneHas(t, e, phiName))

	out := lb.String()
	for _, leak := range []string{"DOE_JANE", "MRN777123", "labresults"} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds %q:\n%s", leak, out)
		}
	}
	if n := strings.Count(out, "will retry"); n != 3 {
		t.Errorf("%d retry lines, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "err=\"sha256=") || !strings.Contains(out, "queue is full") {
		t.Errorf("the error is not logged with the name replaced by the hash:\n%s", out)
	}
	waitFor(t, "stats", func() bool {
		e.Rescan()
		st := e.Stats()
		return st.Claimed == 1 && st.Done == 1 && st.Failed == 0 && st.Retrying == 0 && st.Waiting == 0 && st.OldestWaiting.IsZero()
	})
}

func TestLogsNameFilesWithLogPHI(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	e, lb := startLogged(t, cfg, phiConsumer(1), true)
	dropFile(t, dir, phiName, []byte("II*\x00 fax image"))
	waitFor(t, "done", doneHas(t, e, phiName))
	if out := lb.String(); !strings.Contains(out, phiName+": fax: queue") {
		t.Errorf("with log.phi on, the error should name the file:\n%s", out)
	}
}

func TestRedactNames(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"DOE_JANE.tif: fax: queue is full", "L: fax: queue is full"},
		{`open "/in/.ferry/processing/DOE_JANE.tif": denied`, `open "/in/.ferry/processing/L": denied`},
		{"rename /in/.ferry/processing/DOE_JANE.json /in/.ferry/done/d/DOE_JANE~2.json: x", "rename /in/.ferry/processing/L.json /in/.ferry/done/d/L~2.json: x"},
		// A short stem only where it stands alone: "1" of "1.tif" is kept
		// in "10" and "fax1".
		{"1.tif and 1~2.tif: 10 items in fax1", "L and L~2.tif: 10 items in fax1"},
	} {
		name := "DOE_JANE.tif"
		if strings.HasPrefix(c.in, "1") {
			name = "1.tif"
		}
		if got := redactNames(c.in, "L", name); got != c.want {
			t.Errorf("redactNames(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Names as %q quotes them.
	odd := "Müller\tA.pdf"
	if got := redactNames(fmt.Sprintf("open %q: x", odd), "L", odd); got != `open "L": x` {
		t.Errorf("quoted name: %q", got)
	}
}

// A converter bug must not take the gateway down: the file goes to
// failed/ with its reason, and the next file is consumed.
func TestConsumerPanicGoesToFailed(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		if strings.HasPrefix(in.Name, "DOE") {
			var m map[string]int
			m[in.Name]++ // assignment to a nil map: a runtime panic
		}
		return nil
	}}
	e, lb := startLogged(t, testConfig(dir), rec, false)
	dropFile(t, dir, phiName, []byte("II*\x00 odd"))
	failed := e.Paths().Failed
	waitFor(t, "failed file", func() bool {
		_, err := os.Stat(filepath.Join(failed, phiName))
		return err == nil
	})
	reason, err := os.ReadFile(filepath.Join(failed, phiName+".error.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reason), "panicked") {
		t.Errorf("error.txt:\n%s", reason)
	}
	dropFile(t, dir, "next.hl7", []byte("MSH|next"))
	waitFor(t, "next file done", doneHas(t, e, "next.hl7"))
	out := lb.String()
	if !strings.Contains(out, "folder consumer panicked") || !strings.Contains(out, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", out)
	}
	if strings.Contains(out, "DOE_JANE") {
		t.Errorf("log names the file:\n%s", out)
	}
	waitFor(t, "stats", func() bool {
		st := e.Stats()
		return st.Failed == 1 && st.Done == 1 && st.Claimed == 2
	})
}

// The pipeline recovers a converter's panic itself and quarantines the
// input; the engine still logs it, once, with the stack and, without
// log_phi, not the panic's text, which may quote the file.
func TestConverterPanicFromPipelineIsLogged(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		cp := &adapters.ConvertPanic{Value: "cannot read " + in.Name, Stack: []byte("goroutine 7 [running]:\nv2fhir.(*conv).pid(...)")}
		return queue.Permanent(fmt.Errorf("%s: %w", in.Name, cp))
	}}
	e, lb := startLogged(t, testConfig(dir), rec, false)
	dropFile(t, dir, phiName, []byte("MSH|odd"))
	waitFor(t, "failed file", func() bool {
		_, err := os.Stat(filepath.Join(e.Paths().Failed, phiName))
		return err == nil
	})
	out := lb.String()
	if strings.Count(out, "folder consumer panicked") != 1 || !strings.Contains(out, "panic=string") || !strings.Contains(out, "goroutine 7") {
		t.Errorf("panic not logged once with its stack:\n%s", out)
	}
	if strings.Contains(out, "DOE_JANE") {
		t.Errorf("log names the file:\n%s", out)
	}
}

func TestClaimTroubleIsThrottled(t *testing.T) {
	var tr claimTrouble
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	if !tr.fail(t0) {
		t.Fatal("first failure of an episode not reported")
	}
	for i := 1; i < 100; i++ {
		if tr.fail(t0.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("failure %d, %ds later, reported again", i, i)
		}
	}
	if _, ok := tr.endPass(1); ok {
		t.Fatal("a pass with failures ended the episode")
	}
	if _, ok := tr.endPass(1); ok {
		t.Fatal("a pass that claimed nothing while a file waits ended the episode")
	}
	if !tr.fail(t0.Add(claimWarnEvery + time.Second)) {
		t.Fatal("a problem that goes on is not reported again after claimWarnEvery")
	}
	tr.endPass(1)
	tr.passClaimed = true
	ended, ok := tr.endPass(0)
	if !ok || ended.attempts != 101 || !ended.since.Equal(t0) {
		t.Fatalf("episode end = %+v, %v", ended, ok)
	}
	if !tr.fail(t0.Add(claimWarnEvery + 2*time.Second)) {
		t.Fatal("the first failure of a new episode is not reported")
	}
}

func TestErrorClass(t *testing.T) {
	_, err := os.Open(filepath.Join(t.TempDir(), phiName))
	if got := ErrorClass(fmt.Errorf("claim: %w", err)); strings.Contains(got, "DOE") || got == "" || got == "unclassified error" {
		t.Errorf("ErrorClass = %q", got)
	}
	if got := ErrorClass(errors.New(phiName)); got != "unclassified error" {
		t.Errorf("ErrorClass = %q", got)
	}
}

// Archived and failed inputs keep no mode of their writer: done/ and
// failed/ are owner-only, and so are the files in them.
func TestArchiveModesAreOwnerOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	dir := t.TempDir()
	// An older ferry, or a person, left the archive readable by all.
	if err := os.MkdirAll(filepath.Join(dir, ".ferry", "done"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, ".ferry"), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		if in.Name == "bad.hl7" {
			return queue.Permanent(errors.New("no MSH"))
		}
		return nil
	}}
	e := startEngine(t, testConfig(dir), rec)
	for _, n := range []string{"ok.hl7", "bad.hl7"} {
		p := filepath.Join(dir, n+".tmp")
		writeFile(t, p, []byte("MSH|"+n))
		if err := os.Chmod(p, 0o644); err != nil { // a fax spool's mode
			t.Fatal(err)
		}
		if err := os.Rename(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "done", doneHas(t, e, "ok.hl7"))
	failed := e.Paths().Failed
	waitFor(t, "failed", func() bool {
		_, err := os.Stat(filepath.Join(failed, "bad.hl7"))
		return err == nil
	})
	day := filepath.Join(e.Paths().Done, time.Now().Format("2006-01-02"))
	for path, want := range map[string]os.FileMode{
		filepath.Join(dir, ".ferry"):     0o700,
		e.Paths().Processing:             0o700,
		e.Paths().Done:                   0o700,
		day:                              0o700,
		failed:                           0o700,
		filepath.Join(day, "ok.hl7"):     0o600,
		filepath.Join(failed, "bad.hl7"): 0o600,
		filepath.Join(failed, "bad.hl7.error.txt"): 0o600,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}
