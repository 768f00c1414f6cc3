package folder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// got is one Consume call as the consumer saw it.
type got struct {
	raw  adapters.Raw
	body []byte // Body, or the content read through Open
}

// recorder is a real Consumer that keeps what it was given; fn, when set,
// decides the answer.
type recorder struct {
	mu    sync.Mutex
	calls []got
	fn    func(ctx context.Context, n int, in adapters.Raw) error
}

func (r *recorder) Consume(ctx context.Context, in adapters.Raw) error {
	body := in.Body
	if body == nil && in.Open != nil {
		rc, err := in.Open()
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		body, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
	} else {
		body = bytes.Clone(body)
	}
	r.mu.Lock()
	n := len(r.calls)
	r.calls = append(r.calls, got{raw: in, body: body})
	fn := r.fn
	r.mu.Unlock()
	if fn != nil {
		return fn(ctx, n, in)
	}
	return nil
}

func (r *recorder) all() []got {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]got(nil), r.calls...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitPasses waits until the engine has completed n more scans than now.
func waitPasses(t testing.TB, e *Engine, n int64) {
	t.Helper()
	start := e.passes.Load()
	for i := int64(0); i < n; i++ {
		e.Rescan()
		want := start + i + 1
		waitFor(t, "engine pass", func() bool { return e.passes.Load() >= want })
	}
}

func testConfig(dir string) Config {
	return Config{
		Name:         "test",
		Kind:         "ehr",
		Path:         dir,
		Settle:       40 * time.Millisecond,
		Rescan:       time.Hour, // tests trigger rescans themselves unless polling
		RetryInitial: 10 * time.Millisecond,
		RetryMax:     50 * time.Millisecond,
	}
}

func startEngine(t testing.TB, cfg Config, c adapters.Consumer, opts ...Option) *Engine {
	t.Helper()
	set := adapters.Settings{ID: "folder/" + cfg.Name, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e, err := New(set, cfg, c, opts...)
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
	return e
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// dropFile writes under a temporary name and renames it in, as careful
// writers do.
func dropFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, name+".tmp")
	writeFile(t, tmp, data)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// filesUnder lists regular files below dir, relative, slash-separated.
func filesUnder(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func inDone(t testing.TB, e *Engine) []string {
	return filesUnder(t, e.Paths().Done)
}

func doneHas(t testing.TB, e *Engine, name string) func() bool {
	return func() bool {
		for _, f := range inDone(t, e) {
			if filepath.Base(f) == name {
				return true
			}
		}
		return false
	}
}

func TestSlowWriterIsNotReadEarly(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.Settle = 300 * time.Millisecond
	e := startEngine(t, cfg, rec)

	f, err := os.Create(filepath.Join(dir, "slow.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := 0; i < 12; i++ {
		chunk := bytes.Repeat([]byte{byte('a' + i)}, 4096)
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want = append(want, chunk...)
		time.Sleep(20 * time.Millisecond) // the writer's pace, not an assertion
	}
	f.Close()

	waitFor(t, "consume", func() bool { return rec.count() == 1 })
	if got := rec.all()[0].body; !bytes.Equal(got, want) {
		t.Fatalf("consumed %d bytes, want the whole %d", len(got), len(want))
	}
	waitFor(t, "done", doneHas(t, e, "slow.hl7"))
}

func TestRenamedInFileIsReadOnce(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)

	dropFile(t, dir, "a.xml", []byte("<ClinicalDocument/>"))
	waitFor(t, "done", doneHas(t, e, "a.xml"))
	waitPasses(t, e, 3)
	calls := rec.all()
	if len(calls) != 1 {
		t.Fatalf("consumed %d times, want 1", len(calls))
	}
	in := calls[0].raw
	if in.Name != "a.xml" || in.Source != "folder/test" || in.Size != 19 {
		t.Errorf("raw = name %q source %q size %d", in.Name, in.Source, in.Size)
	}
	sum := sha256.Sum256([]byte("<ClinicalDocument/>"))
	if in.Meta[MetaSHA256] != fmt.Sprintf("%x", sum) || in.Meta[MetaFolder] != "test" || in.Meta[MetaAttempt] != "1" {
		t.Errorf("meta = %v", in.Meta)
	}
	if filepath.Dir(in.Meta[MetaPath]) != e.Paths().Processing {
		t.Errorf("meta path %q is not in processing", in.Meta[MetaPath])
	}
	if left := filesUnder(t, e.Paths().Processing); len(left) != 0 {
		t.Errorf("processing still holds %v", left)
	}
	day := time.Now().Format("2006-01-02")
	if d := inDone(t, e); len(d) != 1 || d[0] != day+"/a.xml" && !strings.HasSuffix(d[0], "/a.xml") {
		t.Errorf("done = %v", d)
	}
}

func TestTempAndHiddenFilesAreIgnored(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)
	for _, n := range []string{"x.tmp", "y.part", "~lock.docx", ".hidden"} {
		writeFile(t, filepath.Join(dir, n), []byte("data"))
	}
	writeFile(t, filepath.Join(dir, "real.hl7"), []byte("MSH|^~\\&|"))
	waitFor(t, "done", doneHas(t, e, "real.hl7"))
	waitPasses(t, e, 2)
	if rec.count() != 1 {
		t.Fatalf("consumed %d files, want only real.hl7", rec.count())
	}
	for _, n := range []string{"x.tmp", "y.part", "~lock.docx", ".hidden"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was touched: %v", n, err)
		}
	}
}

func TestTransientFailureIsRetried(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{fn: func(_ context.Context, n int, _ adapters.Raw) error {
		if n == 0 {
			return errors.New("queue: disk busy")
		}
		return nil
	}}
	e := startEngine(t, testConfig(dir), rec)
	dropFile(t, dir, "r.hl7", []byte("MSH|1"))
	waitFor(t, "done", doneHas(t, e, "r.hl7"))
	calls := rec.all()
	if len(calls) != 2 {
		t.Fatalf("consumed %d times, want 2 (fail, then succeed)", len(calls))
	}
	if calls[1].raw.Meta[MetaAttempt] != "2" {
		t.Errorf("second attempt meta = %q", calls[1].raw.Meta[MetaAttempt])
	}
	if left := filesUnder(t, e.Paths().Processing); len(left) != 0 {
		t.Errorf("processing still holds %v", left)
	}
}

// A real restart: the first engine is shut down while Consume is in
// progress (as a crash between claim and enqueue would leave it); a new
// engine on the same folder consumes the file exactly once.
func TestRestartResumesClaimedFile(t *testing.T) {
	dir := t.TempDir()
	entered := make(chan struct{})
	var once sync.Once
	blocker := &recorder{fn: func(ctx context.Context, _ int, _ adapters.Raw) error {
		once.Do(func() { close(entered) })
		<-ctx.Done()
		return ctx.Err()
	}}
	cfg := testConfig(dir)
	set := adapters.Settings{ID: "folder/test"}
	e1, err := New(set, cfg, blocker)
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	dropFile(t, dir, "crash.hl7", []byte("MSH|crash"))
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("consume never started")
	}
	if err := e1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := filesUnder(t, e1.Paths().Processing); len(left) != 1 || left[0] != "crash.hl7" {
		t.Fatalf("after shutdown processing = %v, want crash.hl7", left)
	}

	rec := &recorder{}
	e2 := startEngine(t, cfg, rec)
	waitFor(t, "done", doneHas(t, e2, "crash.hl7"))
	waitPasses(t, e2, 2)
	if n := rec.count(); n != 1 {
		t.Fatalf("second engine consumed %d times, want 1", n)
	}
	if got := rec.all()[0].body; string(got) != "MSH|crash" {
		t.Fatalf("body = %q", got)
	}
}

// A crash after the durable enqueue but before the move leaves a file in
// processing/ whose hash is already in the seen-set: the next start moves it
// to done/ without consuming it again.
func TestRestartAfterEnqueueDoesNotDuplicate(t *testing.T) {
	dir := t.TempDir()
	data := []byte("MSH|enqueued")
	proc := filepath.Join(dir, ".ferry", "processing")
	if err := os.MkdirAll(proc, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(proc, "late.hl7"), data)
	sf, err := OpenSeenFile(filepath.Join(dir, ".ferry", "seen.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sf.Add(sha256.Sum256(data)); err != nil {
		t.Fatal(err)
	}
	sf.Close()

	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)
	waitFor(t, "done", doneHas(t, e, "late.hl7"))
	if n := rec.count(); n != 0 {
		t.Fatalf("consumed %d times, want 0", n)
	}
}

func TestSameContentTwiceIsConsumedOnce(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	e := startEngine(t, cfg, rec)
	data := []byte("<ClinicalDocument>same</ClinicalDocument>")
	dropFile(t, dir, "first.xml", data)
	waitFor(t, "first done", doneHas(t, e, "first.xml"))
	dropFile(t, dir, "second.xml", data)
	waitFor(t, "second done", doneHas(t, e, "second.xml"))
	if n := rec.count(); n != 1 {
		t.Fatalf("consumed %d times, want 1", n)
	}
	// The file reaches done/ a moment before the counters move.
	waitFor(t, "the duplicate counted", func() bool { st := e.Stats(); return st.Duplicates == 1 && st.Done == 2 })
	// The seen-set is durable: a new engine still knows the content.
	ctx := context.Background()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	e2 := startEngine(t, cfg, rec)
	dropFile(t, dir, "third.xml", data)
	waitFor(t, "third done", doneHas(t, e2, "third.xml"))
	if n := rec.count(); n != 1 {
		t.Fatalf("consumed %d times after restart, want 1", n)
	}
}

func TestPermanentFailureGoesToFailed(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{fn: func(context.Context, int, adapters.Raw) error {
		return queue.Permanent(errors.New("convert: no PID segment"))
	}}
	e := startEngine(t, testConfig(dir), rec)
	dropFile(t, dir, "bad.hl7", []byte("MSH|bad"))
	failed := e.Paths().Failed
	waitFor(t, "error file", func() bool {
		_, err := os.Stat(filepath.Join(failed, "bad.hl7.error.txt"))
		return err == nil
	})
	waitFor(t, "failed file", func() bool {
		_, err := os.Stat(filepath.Join(failed, "bad.hl7"))
		return err == nil
	})
	reason, err := os.ReadFile(filepath.Join(failed, "bad.hl7.error.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"file: bad.hl7", "reason: convert: no PID segment", "sha256: "} {
		if !strings.Contains(string(reason), want) {
			t.Errorf("error.txt lacks %q:\n%s", want, reason)
		}
	}
	waitPasses(t, e, 2)
	if n := rec.count(); n != 1 {
		t.Errorf("consumed %d times, want 1", n)
	}
	if left := filesUnder(t, e.Paths().Processing); len(left) != 0 {
		t.Errorf("processing still holds %v", left)
	}
	// A second bad file of the same name keeps both.
	dropFile(t, dir, "bad.hl7", []byte("MSH|bad again"))
	waitFor(t, "second failed file", func() bool {
		_, err := os.Stat(filepath.Join(failed, "bad~2.hl7.error.txt"))
		return err == nil
	})
}

// TestCrashBetweenReasonAndMove: fail writes a file's reason, then moves
// the file beside it. A kill -9 in between left the reason alone in
// failed/ (here made as fail makes it: its sha256 line); the file,
// failing again after the restart, went in as bad~2.hl7 beside a reason
// naming no file. It now takes its own reason's name back: failed/ holds
// bad.hl7 and one reason, and another file's lone reason is left alone.
func TestCrashBetweenReasonAndMove(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{fn: func(context.Context, int, adapters.Raw) error {
		return queue.Permanent(errors.New("convert: no PID segment"))
	}}
	cfg := testConfig(dir)
	body := []byte("MSH|bad")
	sum := sha256.Sum256(body)
	failed := filepath.Join(dir, ".ferry", "failed")
	if err := os.MkdirAll(failed, 0o700); err != nil {
		t.Fatal(err)
	}
	orphan := fmt.Sprintf("file: bad.hl7\nsource: folder/t\nsize: %d\nsha256: %x\nreason: convert: no PID segment\n", len(body), sum)
	writeFile(t, filepath.Join(failed, "bad.hl7.error.txt"), []byte(orphan))
	other := "file: other.hl7\nsha256: 00ff\nreason: something else\n"
	writeFile(t, filepath.Join(failed, "other.hl7.error.txt"), []byte(other))
	e := startEngine(t, cfg, rec)
	if e.Paths().Failed != failed {
		t.Fatalf("failed/ is %s", e.Paths().Failed)
	}
	dropFile(t, dir, "bad.hl7", body)
	waitFor(t, "failed file", func() bool {
		_, err := os.Stat(filepath.Join(failed, "bad.hl7"))
		return err == nil
	})
	waitPasses(t, e, 2)
	var names []string
	ents, _ := os.ReadDir(failed)
	for _, en := range ents {
		names = append(names, en.Name())
	}
	if got := strings.Join(names, " "); got != "bad.hl7 bad.hl7.error.txt other.hl7.error.txt" {
		t.Fatalf("failed/ holds %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(failed, "bad.hl7.error.txt")); !strings.Contains(string(b), "failed at: ") {
		t.Errorf("bad.hl7's reason is not the new one:\n%s", b)
	}
}

func TestInitialScanFindsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("old%d.hl7", i)), []byte(fmt.Sprintf("MSH|%d", i)))
	}
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)
	waitFor(t, "all five", func() bool { return len(inDone(t, e)) == 5 })
	if n := rec.count(); n != 5 {
		t.Fatalf("consumed %d, want 5", n)
	}
}

func TestPollingOnlyFindsFiles(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.Poll = true
	cfg.Rescan = 50 * time.Millisecond
	e := startEngine(t, cfg, rec)
	if e.watcher != nil {
		t.Fatal("poll mode has a watcher")
	}
	waitPasses(t, e, 1)
	writeFile(t, filepath.Join(dir, "p1.hl7"), []byte("MSH|p1"))
	dropFile(t, dir, "p2.hl7", []byte("MSH|p2"))
	// No events and no manual rescans: only the gocron schedule finds them.
	waitFor(t, "both", func() bool { return len(inDone(t, e)) == 2 })
	if n := rec.count(); n != 2 {
		t.Fatalf("consumed %d, want 2", n)
	}
}

func TestMarkerFileGatesReadiness(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.MarkerSuffix = ".done"
	e := startEngine(t, cfg, rec)
	writeFile(t, filepath.Join(dir, "m.xml"), []byte("<x/>"))
	writeFile(t, filepath.Join(dir, "n.xml"), []byte("<y/>"))
	// Both settled and were held back for want of a marker, more than once.
	waitFor(t, "marker waits", func() bool { e.Rescan(); return e.waits.Load() >= 4 })
	if n := rec.count(); n != 0 {
		t.Fatalf("consumed %d files without markers", n)
	}
	writeFile(t, filepath.Join(dir, "m.xml.done"), nil) // x.xml.done form
	writeFile(t, filepath.Join(dir, "n.done"), nil)     // x.done form
	waitFor(t, "both", func() bool { return len(inDone(t, e)) == 2 })
	for _, m := range []string{"m.xml.done", "n.done"} {
		if _, err := os.Stat(filepath.Join(dir, m)); err == nil {
			t.Errorf("marker %s not removed", m)
		}
	}
}

func TestSidecarsAreClaimedTogether(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	cfg.SidecarRequired = true
	e := startEngine(t, cfg, rec)
	writeFile(t, filepath.Join(dir, "fax1.pdf"), []byte("%PDF-1.4 one"))
	waitFor(t, "sidecar waits", func() bool { e.Rescan(); return e.waits.Load() >= 2 })
	if rec.count() != 0 {
		t.Fatal("consumed fax1.pdf before its required sidecar")
	}
	writeFile(t, filepath.Join(dir, "fax1.json"), []byte(`{"pages":1}`))
	waitFor(t, "pdf", doneHas(t, e, "fax1.pdf"))
	waitFor(t, "json", doneHas(t, e, "fax1.json"))
	in := rec.all()[0].raw
	if string(in.Sidecars["fax1.json"]) != `{"pages":1}` || in.Meta[MetaSidecars] != "fax1.json" {
		t.Fatalf("sidecars = %q meta %q", in.Sidecars, in.Meta[MetaSidecars])
	}
	if rec.count() != 1 {
		t.Fatalf("consumed %d, want 1 (the json is no input)", rec.count())
	}
}

func TestLargeFileIsStreamed(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.MaxBodyBytes = 1024
	e := startEngine(t, cfg, rec)
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	dropFile(t, dir, "big.pdf", big)
	waitFor(t, "done", doneHas(t, e, "big.pdf"))
	g := rec.all()[0]
	if g.raw.Body != nil {
		t.Fatalf("Body has %d bytes, want nil above max_body_bytes", len(g.raw.Body))
	}
	if !bytes.Equal(g.body, big) || g.raw.Size != int64(len(big)) || g.raw.Meta[MetaSize] != "65536" {
		t.Fatalf("streamed %d bytes, size %d", len(g.body), g.raw.Size)
	}
}

func TestAfterDeleteRemovesFile(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.After = AfterDelete
	e := startEngine(t, cfg, rec)
	dropFile(t, dir, "gone.hl7", []byte("MSH|gone"))
	waitFor(t, "consume", func() bool { return rec.count() == 1 })
	waitFor(t, "removal", func() bool { return len(filesUnder(t, e.Paths().Processing)) == 0 })
	if d := inDone(t, e); len(d) != 0 {
		t.Fatalf("done = %v, want empty", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone.hl7")); err == nil {
		t.Fatal("file still in folder")
	}
}

func TestReusedNameKeepsEveryCopy(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)
	dropFile(t, dir, "export.xml", []byte("<a/>"))
	waitFor(t, "first", doneHas(t, e, "export.xml"))
	dropFile(t, dir, "export.xml", []byte("<b/>"))
	waitFor(t, "second", doneHas(t, e, "export~2.xml"))
	if rec.count() != 2 {
		t.Fatalf("consumed %d, want 2", rec.count())
	}
}

func TestDoneDirOverride(t *testing.T) {
	dir, done, failed := t.TempDir(), t.TempDir(), t.TempDir()
	cfg := testConfig(dir)
	cfg.DoneDir, cfg.FailedDir = done, failed
	rec := &recorder{}
	e := startEngine(t, cfg, rec)
	if e.Paths().Done != done || e.Paths().Failed != failed {
		t.Fatalf("paths = %+v", e.Paths())
	}
	dropFile(t, dir, "o.hl7", []byte("MSH|o"))
	waitFor(t, "done", func() bool { return len(filesUnder(t, done)) == 1 })
}

// An event-queue overflow (inotify IN_Q_OVERFLOW, a full
// ReadDirectoryChangesW buffer) means events were lost: the engine rescans
// at once instead of waiting for the schedule.
func TestEventOverflowTriggersRescan(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, testConfig(dir), &recorder{})
	if e.watcher == nil {
		t.Skip("no fsnotify watcher on this system")
	}
	waitFor(t, "initial scan", func() bool { return e.passes.Load() >= 1 })
	before := e.passes.Load()
	e.watcher.Errors <- fsnotify.ErrEventOverflow
	waitFor(t, "rescan after overflow", func() bool { return e.passes.Load() > before })
}

// Files left in processing/ by a run that died after the claim are consumed
// at start, before anything new.
func TestLeftoverInProcessingIsConsumed(t *testing.T) {
	dir := t.TempDir()
	proc := filepath.Join(dir, ".ferry", "processing")
	if err := os.MkdirAll(proc, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(proc, "left.hl7"), []byte("MSH|left"))
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)
	waitFor(t, "done", doneHas(t, e, "left.hl7"))
	if n := rec.count(); n != 1 || string(rec.all()[0].body) != "MSH|left" {
		t.Fatalf("consumed %d", n)
	}
}

// TestSameImageOtherSidecarIsConsumed: the seen-set remembers a file with
// sidecars by its content and theirs. The same fax image with another
// sidecar (a corrected patient, one form faxed for two patients) is
// consumed; with the same sidecar again it is a duplicate.
func TestSameImageOtherSidecarIsConsumed(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	cfg.SidecarRequired = true
	e := startEngine(t, cfg, rec)
	img := []byte("%PDF-1.4 the same form")
	drop := func(name, sidecar string) {
		writeFile(t, filepath.Join(dir, name+".json"), []byte(sidecar))
		writeFile(t, filepath.Join(dir, name+".pdf"), img)
		waitFor(t, name, doneHas(t, e, name+".pdf"))
	}
	drop("a", `{"mrn":"MRN-1"}`)
	drop("b", `{"mrn":"MRN-2"}`)
	if n := rec.count(); n != 2 {
		t.Fatalf("consumed %d, want 2: the same image for another patient was skipped as a duplicate", n)
	}
	drop("c", `{"mrn":"MRN-1"}`)
	if n := rec.count(); n != 2 {
		t.Fatalf("consumed %d, want 2: the same image and sidecar again is a duplicate", n)
	}
	waitFor(t, "the duplicate counted", func() bool { return e.Stats().Duplicates == 1 })
}
