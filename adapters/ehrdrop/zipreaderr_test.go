package ehrdrop

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// droppingZip is a claimed archive as the folder engine hands it over
// (Raw.Open: an *os.File's ReadAt and Stat) on a share that drops at
// byte at: the engine's reader says so with an *adapters.ReadError.
type droppingZip struct {
	*os.File
	at int64
}

func (f *droppingZip) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= f.at {
		return f.File.ReadAt(p, off)
	}
	return 0, &adapters.ReadError{Err: &fs.PathError{Op: "read", Path: f.Name(), Err: syscall.EIO}}
}

// TestZipReadErrorRetried: an archive above the in-memory limit whose
// reading fails partway (the share it is on dropped) is neither
// refused nor sent to failed/: the documents read before stay queued,
// and the error is an ordinary read error, for the engine to read the
// archive again (the pipeline's dedup drops what was queued).
func TestZipReadErrorRetried(t *testing.T) {
	big := strings.Repeat("MSH|^~\\&|EHR|CLINIC|||20260301090000||ADT^A08|M1|P|2.5.1\rPID|1||MRN1^^^CLINIC^MR||Test^Pat\r", 1)
	files := []zipFile{{"export/a.hl7", []byte(big)}, {"export/b.bin", []byte(strings.Repeat("x", 64<<10))}, {"export/c.hl7", []byte(big)}}
	path := filepath.Join(t.TempDir(), "export.zip")
	if err := os.WriteFile(path, buildZip(t, time.Now(), files...), 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{info.Size() / 2, info.Size() - 10} {
		pipe, _ := newPipeline(t)
		rec := &recorder{next: pipe}
		src := &Source{next: rec, zip: defaultZipLimits, maxBody: 1024}
		in := adapters.Raw{Name: "export.zip", Size: info.Size(), Meta: map[string]string{},
			Open: func() (io.ReadCloser, error) {
				f, err := os.Open(path)
				if err != nil {
					return nil, err
				}
				return &droppingZip{File: f, at: at}, nil
			}}
		err := src.consumeZip(context.Background(), in)
		if err == nil || queue.IsPermanent(err) || !adapters.IsReadError(err) {
			t.Errorf("an archive whose reading fails at byte %d of %d: %v (permanent %v), want a retryable read error", at, info.Size(), err, queue.IsPermanent(err))
		}
	}
}
