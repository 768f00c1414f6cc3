package faxfhir

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// oneDrop is a fax file as the folder engine hands it over (Raw.Open)
// whose read number drop (from 1) fails, as a share that drops for a
// moment makes one read fail.
type oneDrop struct {
	*os.File
	reads *atomic.Int32
	drop  int32
}

func (f *oneDrop) ReadAt(p []byte, off int64) (int, error) {
	if f.reads.Add(1) == f.drop {
		return 0, &adapters.ReadError{Err: &fs.PathError{Op: "read", Path: f.Name(), Err: syscall.EIO}}
	}
	return f.File.ReadAt(p, off)
}

func (f *oneDrop) Read(p []byte) (int, error) {
	if f.reads.Add(1) == f.drop {
		return 0, &adapters.ReadError{Err: &fs.PathError{Op: "read", Path: f.Name(), Err: syscall.EIO}}
	}
	return f.File.Read(p)
}

// TestEncryptedPDFCheckReadError: the check that a PDF opens without a
// password read its trailer and encryption dictionary, and took a read
// that failed (the share dropped for a moment) for "no trailer", or
// "no dictionary": a PDF that needs a password was then filed at the
// exchange as a document nobody there can open, and one that opens
// without one was refused for good as needing it, and moved to failed/.
// Whichever read fails, the fax is now read again: a retryable read
// error, never a verdict.
func TestEncryptedPDFCheckReadError(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	pdf := writePDF(t, "g3-1d-normal-3p.tif")
	fileID := esc(t, "%F6%C6%AF%17%F3rR%8DRM%9A%80%D1%EF%DF%18")
	for _, tc := range []struct {
		name, entries string
		needsPassword bool
	}{
		{"rc4 r3, user password", "/Filter /Standard /V 2 /Length 128 /R 3 /P -1028 /O " +
			hexStr(esc(t, "%80%C3%04%96%91o%20sl%3A%E6%1B%13T%91%F2%0DV%12%E3%FF%5E%BB%E9VO%D8k%9A%CA%7C%5D")) + " /U " +
			hexStr(esc(t, "j%0C%8D%3EY%19%00%BCjd%7D%91%BD%AA%00%18%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00")), true},
		{"r4, no user password", "/Filter /Standard /V 4 /Length 128 /R 4 /P -1084 /O " +
			hexStr(esc(t, "sF%14v.y5%27%DB%97%0A5%22%B3%E1%D4%AD%BD%9B%3C%B4%A5%89u%15%B2Y%F1h%D9%E9%F4")) + " /U " +
			hexStr(esc(t, "%93%04%89%A9%BF%8AE%A6%88%A2%DB%C2%A0%A8gn%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00")), false},
	} {
		id := fileID
		if !tc.needsPassword {
			id = esc(t, "%3CL_%3AD%96%AF@%9A%9D%B3%3Cx%1Cv%AC")
		}
		path := filepath.Join(t.TempDir(), "secure.pdf")
		if err := os.WriteFile(path, encryptedPDF(pdf, tc.entries, id, false), 0o600); err != nil {
			t.Fatal(err)
		}
		for drop := int32(1); drop <= 8; drop++ {
			var reads atomic.Int32
			in := adapters.Raw{Name: "secure.pdf", Open: func() (io.ReadCloser, error) {
				f, err := os.Open(path)
				if err != nil {
					return nil, err
				}
				return &oneDrop{File: f, reads: &reads, drop: drop}, nil
			}}
			var out bytes.Buffer
			_, err := c.WriteRaw(context.Background(), &out, in)
			switch {
			case adapters.IsReadError(err) && !queue.IsPermanent(err):
			case err == nil && tc.needsPassword:
				t.Errorf("%s, read %d failing: converted, though it opens only with a password", tc.name, drop)
			case err != nil && !tc.needsPassword:
				t.Errorf("%s, read %d failing: %v (permanent %v); it opens without a password, and was read again", tc.name, drop, err, queue.IsPermanent(err))
			case err != nil && !errors.Is(err, ErrPDFEncrypted):
				t.Errorf("%s, read %d failing: %v", tc.name, drop, err)
			}
		}
	}
}
