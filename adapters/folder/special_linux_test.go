package folder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// mkfifo makes a named pipe at path, and on cleanup opens it for writing
// once (without blocking), which frees a reader stuck in open(2): a test
// that fails because the engine blocked on the pipe ends instead of
// leaving the engine hung.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { releaseFIFO(path) })
}

func releaseFIFO(path string) {
	if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.Close()
	}
}

// TestFIFOSwappedInBeforeClaimDoesNotBlock: a regular file is listed and
// settled, and before the engine checks it (the lock check opens it) the
// writer replaces it with a named pipe that nobody writes. The engine must
// not open the pipe (an open for reading blocks until a writer comes,
// and the whole folder with it): the pipe stays where it is, counted, and
// the next fax is taken.
func TestFIFOSwappedInBeforeClaimDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := testConfig(dir)
	e, err := New(adapters.Settings{ID: "fax/test"}, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	pipe := filepath.Join(dir, "fax001.tif")
	var swapped atomic.Bool
	e.testHookReady = func(name string) {
		if name != "fax001.tif" || swapped.Load() {
			return
		}
		if err := os.Remove(pipe); err != nil {
			t.Error(err)
		}
		if err := syscall.Mkfifo(pipe, 0o600); err != nil {
			t.Error(err)
		}
		swapped.Store(true)
	}
	t.Cleanup(func() { releaseFIFO(pipe) })
	dropFile(t, dir, "fax001.tif", []byte("II*\x00 first"))
	if err := e.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		releaseFIFO(pipe)
		e.Shutdown(context.Background())
	})
	waitFor(t, "the swap", func() bool { e.Rescan(); return swapped.Load() })
	dropFile(t, dir, "fax002.tif", []byte("II*\x00 second"))
	waitFor(t, "the next fax taken", doneHas(t, e, "fax002.tif"))
	if info, err := os.Lstat(pipe); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was moved or replaced: %v %v", info, err)
	}
	for _, c := range rec.all() {
		if c.raw.Name == "fax001.tif" {
			t.Fatal("the pipe was consumed")
		}
	}
	if got := filesUnder(t, filepath.Join(dir, ".ferry", "processing")); len(got) != 0 {
		t.Errorf("left in processing/: %v", got)
	}
	waitFor(t, "the pipe counted", func() bool { e.Rescan(); return e.Stats().SpecialFiles == 1 })
}

// TestFIFOInFolderIsLeftAndShown: a named pipe in the inbox (made there
// by mistake, or by a fax server that uses one) is never opened nor
// moved, is counted in Stats.Special and logged once at WARN without
// its name (the name only with log_phi), and does not hold up the files
// beside it.
func TestFIFOInFolderIsLeftAndShown(t *testing.T) {
	for _, phi := range []bool{false, true} {
		t.Run(map[bool]string{false: "no phi", true: "log_phi"}[phi], func(t *testing.T) {
			dir := t.TempDir()
			rec := &recorder{}
			pipe := filepath.Join(dir, phiName)
			mkfifo(t, pipe)
			e, lb := startLogged(t, testConfig(dir), rec, phi)
			dropFile(t, dir, "fax002.tif", []byte("II*\x00 second"))
			waitFor(t, "the fax beside it", doneHas(t, e, "fax002.tif"))
			waitPasses(t, e, 3)
			if info, err := os.Lstat(pipe); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
				t.Fatalf("the pipe was moved: %v", err)
			}
			if st := e.Stats(); st.SpecialFiles != 1 || st.Symlinks != 0 || st.Waiting != 0 {
				t.Errorf("stats %+v, want 1 special file, none waiting", st)
			}
			out := lb.String()
			if n := strings.Count(out, "level=WARN msg=\"folder entries left in place"); n != 1 {
				t.Errorf("%d WARN lines for one pipe over several passes, want 1:\n%s", n, out)
			}
			if strings.Contains(out, "DOE_JANE") != phi {
				t.Errorf("log names the pipe: %v, want %v:\n%s", !phi, phi, out)
			}
			if rec.count() != 1 {
				t.Errorf("consumed %d, want 1", rec.count())
			}
		})
	}
}

// TestOpenRefusesFIFO: every place that opens an input (the lock check,
// reading a claimed file or its sidecar, copying across volumes, the
// consumer's Open) refuses a named pipe at once instead of blocking for
// a writer, should one be swapped in after the listing.
func TestOpenRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	mkfifo(t, filepath.Join(dir, "x.tif"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	p := place{root, "."}
	e, err := New(adapters.Settings{}, testConfig(t.TempDir()), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	e.proc = p
	other, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for name, f := range map[string]func() error{
		"busy":        func() error { _, err := busy(p, "x.tif"); return err },
		"readClaimed": func() error { _, _, _, _, err := e.readClaimed("x.tif"); return err },
		"readSmall":   func() error { _, err := readSmall(p, "x.tif", 100); return err },
		"copyIn":      func() error { return copyIn(p, "x.tif", place{other, "."}, "x.tif") },
		"openRegular": func() error {
			f, err := openRegular(p, "x.tif")
			if err == nil {
				f.Close()
			}
			return err
		},
	} {
		done := make(chan error, 1)
		go func() { done <- f() }()
		var err error
		waitFor(t, name+" to return", func() bool {
			select {
			case err = <-done:
				return true
			default:
				return false
			}
		})
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v, want a refusal naming a file that is not regular", name, err)
		}
	}
}

// TestSymlinkInFolderIsShown: a symbolic link named like a fax (copied in
// as a link by mistake, or planted) is not followed: its target is
// neither read nor moved, the link stays, and it is counted in
// Stats.Symlinks and logged once at WARN, where it used to be skipped
// without a trace (the operator saw a fax that never arrived).
func TestSymlinkInFolderIsShown(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere.tif")
	writeFile(t, target, []byte("II*\x00 not ours"))
	link := filepath.Join(dir, phiName)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	// A link whose name is ignored is no input and not counted.
	if err := os.Symlink(target, filepath.Join(dir, "x.tmp")); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	e, lb := startLogged(t, testConfig(dir), rec, false)
	dropFile(t, dir, "fax002.tif", []byte("II*\x00 second"))
	waitFor(t, "the fax beside it", doneHas(t, e, "fax002.tif"))
	waitPasses(t, e, 3)
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was moved: %v", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "II*\x00 not ours" {
		t.Fatal("the link's target changed")
	}
	if st := e.Stats(); st.Symlinks != 1 || st.SpecialFiles != 0 || st.Waiting != 0 || st.ClaimErrors != 0 {
		t.Errorf("stats %+v, want 1 symlink, nothing waiting", st)
	}
	if rec.count() != 1 {
		t.Errorf("consumed %d, want 1 (the link's target was read?)", rec.count())
	}
	out := lb.String()
	if n := strings.Count(out, "level=WARN msg=\"folder entries left in place"); n != 1 || !strings.Contains(out, "symlinks=1") {
		t.Errorf("%d WARN lines, want 1 counting the link:\n%s", n, out)
	}
	if strings.Contains(out, "DOE_JANE") {
		t.Errorf("log names the link:\n%s", out)
	}
	// Gone, it is no longer counted; a new one is logged again.
	os.Remove(link)
	waitFor(t, "the count cleared", func() bool { e.Rescan(); return e.Stats().Symlinks == 0 })
}
