package tiffpdf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmptySingleStripRefused: a page in one strip whose StripByteCounts
// is 0 (a writer that wrote the page before it knew its size and never
// went back; libtiff warns "Bogus StripByteCounts field, ignoring and
// calculating from imagelength" and reads the image) became a PDF page
// with an empty image, a blank page that went to the exchange as the fax
// while its image was in the file. It is refused, naming the file, the
// page and the tag, so the fax goes to failed/ and not to the exchange
// blank.
func TestEmptySingleStripRefused(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(faxDir, "g4-fine-1p.tif"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	ifd := int(le.Uint32(b[4:]))
	n := int(le.Uint16(b[ifd:]))
	found := false
	for i := 0; i < n; i++ {
		e := b[ifd+2+12*i:]
		if le.Uint16(e) == TagStripByteCounts {
			if le.Uint16(e[2:]) != 4 || le.Uint32(e[4:]) != 1 {
				t.Fatal("StripByteCounts is not one LONG")
			}
			le.PutUint32(e[8:], 0)
			found = true
		}
	}
	if !found {
		t.Fatal("no StripByteCounts")
	}
	f, err := Read(bytes.NewReader(b), int64(len(b)), "x.tif")
	if err == nil {
		var pdf bytes.Buffer
		WritePDF(&pdf, bytes.NewReader(b), f)
		t.Fatalf("a page of no image bytes was read (PDF of %d bytes)", pdf.Len())
	}
	if want := "tiff x.tif: page 1: tag StripByteCounts (279): "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
}
