package tiffpdf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestUnexpectedFieldTypeSkipped: a fax whose Model is of type 129
// (UTF-8, which Exif 3.0 added for such text) or whose XResolution is a
// DOUBLE was refused whole ("unknown field type 129"), its image never
// reaching the exchange, though TIFF 6.0 section 2 says "Readers should
// skip over fields containing an unexpected field type" (libtiff warns
// "Incompatible type for "Model"; tag ignored" and reads the page). A
// field the page can be read without is skipped when its type is not one
// it is read from; the page's own fields still name their problem.
func TestUnexpectedFieldTypeSkipped(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(faxDir, "hylafax/recvq/fax000000042.tif"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	ifd := int(le.Uint32(b[4:]))
	n := int(le.Uint16(b[ifd:]))
	set := 0
	for i := 0; i < n; i++ {
		e := b[ifd+2+12*i:]
		switch le.Uint16(e) {
		case TagModel:
			le.PutUint16(e[2:], 129)
			set++
		case TagXResolution:
			le.PutUint16(e[2:], 12) // DOUBLE
			set++
		}
	}
	if set != 2 {
		t.Fatalf("%d tags set", set)
	}
	f, err := Read(bytes.NewReader(b), int64(len(b)), "fax000000042.tif")
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	p := f.Pages[0]
	if len(f.Pages) != 2 || p.Model != "" || p.Make != "USRobotics" || p.TSI() != "+1 555 0100" {
		t.Errorf("pages %d, model %q, make %q, TSI %q", len(f.Pages), p.Model, p.Make, p.TSI())
	}
	if x, y := p.DPI(); x != 204 || y != 196 {
		t.Errorf("dpi %vx%v", x, y)
	}
	var pdf bytes.Buffer
	if _, err := WritePDF(&pdf, bytes.NewReader(b), f); err != nil {
		t.Fatal(err)
	}
	checkXref(t, "fax000000042.tif", pdf.Bytes())
}
