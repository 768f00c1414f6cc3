package folder

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// flakyFile is a claimed file on a share that drops: while the test says
// so, every read at or past byte at fails with the operating system's
// EIO, as an SMB or NFS mount does for a moment (or, a bad sector, for
// good).
type flakyFile struct {
	*os.File
	at   int64
	pos  int64
	down *atomic.Bool
}

func (f *flakyFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *flakyFile) ReadAt(p []byte, off int64) (int, error) {
	if !f.down.Load() {
		return f.File.ReadAt(p, off)
	}
	eio := &fs.PathError{Op: "read", Path: f.Name(), Err: syscall.EIO}
	if off >= f.at {
		return 0, eio
	}
	if int64(len(p)) > f.at-off {
		n, err := f.File.ReadAt(p[:f.at-off], off)
		if err == nil {
			err = eio
		}
		return n, err
	}
	return f.File.ReadAt(p, off)
}

func (f *flakyFile) Seek(off int64, whence int) (int64, error) {
	n, err := f.File.Seek(off, whence)
	f.pos = n
	return n, err
}

// startFlaky starts an engine whose claimed files read as flakyFiles
// while down is set, failing at byte at (with consumerOnly, only when
// the consumer reads them: the engine's reading before works); consume reads them as a converter does, through
// Raw.Open, and tells a failure to read them from one of their content
// (a permanent error) by adapters.IsReadError, as the pipeline does.
func startFlaky(t *testing.T, cfg Config, at int64, consumerOnly bool, down *atomic.Bool, consumed *atomic.Int32, limit time.Duration) *Engine {
	t.Helper()
	consume := adapters.ConsumerFunc(func(_ context.Context, in adapters.Raw) error {
		rc, err := in.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		if _, err := io.Copy(io.Discard, rc); err != nil {
			if adapters.IsReadError(err) {
				return err
			}
			return queue.Permanent(err)
		}
		consumed.Add(1)
		return nil
	})
	set := adapters.Settings{ID: "folder/" + cfg.Name, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e, err := New(set, cfg, consume)
	if err != nil {
		t.Fatal(err)
	}
	e.readLimit = limit
	var opens atomic.Int32
	e.testHookOpen = func(f *os.File) adapters.File {
		if consumerOnly && opens.Add(1)%2 == 1 {
			// The engine's own reading of the try: it reads.
			return &flakyFile{File: f, at: at, down: new(atomic.Bool)}
		}
		return &flakyFile{File: f, at: at, down: down}
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

// TestClaimedFileReadErrorRetried: a claimed file whose reading failed
// partway (a drop folder on a share that dropped for a moment: EIO,
// ESTALE) was sent to failed/ by any converter, which took the error
// for a fault of the content; and a file the engine itself could not
// read was tried again for ever, failed/ never told. The engine's
// reader now says a read failed (adapters.ReadError), the file waits in
// processing/ and is read again with backoff, and is consumed once when
// it reads; one that still cannot be read after ReadRetryFor (and
// readTries tries) goes to failed/ with the read error as its reason.
func TestClaimedFileReadErrorRetried(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB, failing at 32
	t.Run("the share comes back", func(t *testing.T) {
		dir := t.TempDir()
		cfg := testConfig(dir)
		cfg.MaxBodyBytes = 1024
		var down atomic.Bool
		var consumed atomic.Int32
		down.Store(true)
		e := startFlaky(t, cfg, 32<<10, true, &down, &consumed, time.Hour)
		dropFile(t, dir, "export.hl7", big)
		waitFor(t, "read failures", func() bool { return e.Stats().Retrying == 1 && e.passes.Load() > 3 })
		if left := filesUnder(t, e.Paths().Processing); len(left) != 1 {
			t.Fatalf("processing/ holds %v while the file cannot be read, want it", left)
		}
		if failed := filesUnder(t, e.Paths().Failed); len(failed) != 0 {
			t.Fatalf("failed/ holds %v after read errors, want nothing", failed)
		}
		down.Store(false)
		waitFor(t, "done", doneHas(t, e, "export.hl7"))
		waitPasses(t, e, 2)
		if n := consumed.Load(); n != 1 {
			t.Errorf("consumed %d times, want once", n)
		}
	})
	t.Run("it never does", func(t *testing.T) {
		for _, size := range []int{len(big), 1000} { // read by the consumer, and by the engine
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.MaxBodyBytes = 2048
			var down atomic.Bool
			var consumed atomic.Int32
			down.Store(true)
			e := startFlaky(t, cfg, int64(size/2), false, &down, &consumed, 0)
			dropFile(t, dir, "export.hl7", big[:size])
			failed := e.Paths().Failed
			waitFor(t, "the file in failed/", func() bool {
				_, err := os.Stat(filepath.Join(failed, "export.hl7"))
				return err == nil
			})
			reason, err := os.ReadFile(filepath.Join(failed, "export.hl7.error.txt"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"reason: ", "could not be read", syscall.EIO.Error(), "tries"} {
				if !strings.Contains(string(reason), want) {
					t.Errorf("%d bytes: error.txt lacks %q:\n%s", size, want, reason)
				}
			}
			if n := consumed.Load(); n != 0 {
				t.Errorf("consumed %d times, want never", n)
			}
		}
	})
}
