package pipeline

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestFaxReadErrorRetried: a fax (PDF or TIFF) above the folder's
// in-memory limit whose first bytes could not be read (the share
// dropped) was refused for good as "neither TIFF nor PDF", the read's
// error ignored, and a TIFF whose directories could not be read as a
// damaged TIFF: quarantined, and the fax moved to failed/. Wherever the
// reading fails, it is now an ordinary read error, and the fax is read
// again.
func TestFaxReadErrorRetried(t *testing.T) {
	pdf := filepath.Join(t.TempDir(), "fax0001.pdf")
	writeTestPDF(t, pdf, 64<<10)
	tif := filepath.Join("..", "..", "testdata", "fax", "g4-fine-3p.tif")
	for _, path := range []string{pdf, tif} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []int64{0, 4, info.Size() / 3, info.Size() / 2, info.Size() - 1} {
			quar, err := OpenQuarantine(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, q, _ := newTestPipeline(t)
			p := New(q, memSeen{}, quar, map[string]Converter{"fax": faxConverter(t)}, nil)
			in := adapters.Raw{Source: "fax/inbox", Format: "fax", Name: filepath.Base(path), Size: info.Size(), Received: time.Now(),
				Open: func() (io.ReadCloser, error) {
					f, err := os.Open(path)
					if err != nil {
						return nil, err
					}
					return &droppingFile{File: f, at: at}, nil
				}}
			err = p.Consume(context.Background(), in)
			if err == nil || queue.IsPermanent(err) || !adapters.IsReadError(err) {
				t.Errorf("%s failing at byte %d of %d: %v (permanent %v), want a retryable read error", filepath.Base(path), at, info.Size(), err, queue.IsPermanent(err))
			}
			if ids, _ := quar.List(); len(ids) != 0 {
				t.Errorf("%s failing at byte %d: quarantined", filepath.Base(path), at)
			}
		}
	}
}
