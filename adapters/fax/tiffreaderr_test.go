package fax

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
)

// failingFile is a claimed fax as the folder engine hands it over
// (Raw.Open) while the share it is on drops: every read fails, as the
// engine's reader says, with an *adapters.ReadError.
type failingFile struct{ *os.File }

func (f failingFile) Read([]byte) (int, error) { return 0, f.dropped() }

func (f failingFile) ReadAt([]byte, int64) (int, error) { return 0, f.dropped() }

func (f failingFile) dropped() error {
	return &adapters.ReadError{Err: &fs.PathError{Op: "read", Path: f.Name(), Err: syscall.EIO}}
}

// TestTIFFTagsReadErrorRetried: a HylaFAX fax above the in-memory limit
// whose TIFF tags could not be read (the share dropped for a moment)
// was handed on without them, as if it were a PDF, when the image read
// a moment later: queued with no sender, no receive time but the file's,
// and no subaddress, which routes a fax to its document kind (lines).
// Such a read error is now returned, and the fax read again whole.
func TestTIFFTagsReadErrorRetried(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fax000000042.tif")
	copyFile(t, filepath.Join(faxDir, "hylafax/recvq/fax000000042.tif"), path)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector(t)
	cfg := DefaultConfig(KindHylaFAX)
	cfg.Name, cfg.Path, cfg.TimeZone = "hylafax", filepath.Dir(path), "America/New_York"
	s, err := New(adapters.Settings{}, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	var opens atomic.Int32
	in := adapters.Raw{Source: "fax/hylafax", Name: "fax000000042.tif", Size: info.Size(), Received: time.Now(),
		Meta: map[string]string{folder.MetaFile: "fax000000042.tif", folder.MetaModTime: info.ModTime().UTC().Format(time.RFC3339Nano)},
		Open: func() (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			if opens.Add(1) == 1 {
				return failingFile{f}, nil // the share is back at the next open
			}
			return f, nil
		}}
	err = s.Feed(context.Background(), in)
	if err == nil {
		g := <-c.got
		fax := faxfhir.FaxFromMeta(g.raw.Meta)
		t.Fatalf("a fax whose TIFF tags could not be read was handed on: subaddress %q, caller %q, pages %d", fax.SubAddress, fax.CallerNumber, fax.Pages)
	}
	if queue.IsPermanent(err) || !adapters.IsReadError(err) {
		t.Fatalf("Feed = %v (permanent %v), want a retryable read error", err, queue.IsPermanent(err))
	}
	if err := s.Feed(context.Background(), in); err != nil {
		t.Fatalf("read again: %v", err)
	}
	if fax := faxfhir.FaxFromMeta((<-c.got).raw.Meta); fax.SubAddress != "201" || fax.Pages != 2 {
		t.Errorf("read again: subaddress %q, pages %d; want the TIFF's 201 and 2", fax.SubAddress, fax.Pages)
	}
}
