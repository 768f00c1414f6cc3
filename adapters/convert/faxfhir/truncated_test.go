package faxfhir

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestTruncatedPDFIsRefused: a PDF cut short (a fax server or download
// that paused longer than the folder's settle time, a copy that ran out
// of disk) has no %%EOF at its end. A cut TIFF is refused (its strips
// run past the end); a cut PDF was filed at the exchange as a document
// nobody can open, and archived in done/ as sent. It must go to failed/
// with a reason that says so, as the TIFF does. A whole PDF, and one with
// bytes after its %%EOF (allowed within 1024 bytes), still convert.
func TestTruncatedPDFIsRefused(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	pdf := writePDF(t, "g3-1d-normal-3p.tif")
	ctx := context.Background()
	for _, body := range [][]byte{pdf, append(append([]byte(nil), pdf...), "\r\n\x00\x00 trailing junk\n"...)} {
		if _, err := c.Convert(ctx, adapters.Raw{Name: "whole.pdf", Body: body}); err != nil {
			t.Fatalf("whole PDF: %v", err)
		}
	}
	for _, n := range []int{len(pdf) / 2, len(pdf) - 7, 5} {
		_, err := c.Convert(ctx, adapters.Raw{Name: "cut.pdf", Body: pdf[:n]})
		if !queue.IsPermanent(err) || !errors.Is(err, ErrPDFTruncated) || !strings.Contains(err.Error(), "fax cut.pdf") {
			t.Errorf("PDF cut to %d of %d bytes: %v", n, len(pdf), err)
		}
	}
}
