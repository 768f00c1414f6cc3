package tiffpdf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// withResolution is the fixture file with its XResolution and
// YResolution RATIONALs set to the numerators and denominators given.
func withResolution(t *testing.T, file string, xn, xd, yn, yd uint32) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(faxDir, file))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	ifd := int(le.Uint32(b[4:]))
	n := int(le.Uint16(b[ifd:]))
	set := 0
	for i := 0; i < n; i++ {
		e := b[ifd+2+12*i:]
		var num, den uint32
		switch le.Uint16(e) {
		case TagXResolution:
			num, den = xn, xd
		case TagYResolution:
			num, den = yn, yd
		default:
			continue
		}
		if le.Uint16(e[2:]) != 5 {
			t.Fatalf("%s: resolution of type %d", file, le.Uint16(e[2:]))
		}
		off := le.Uint32(e[8:])
		le.PutUint32(b[off:], num)
		le.PutUint32(b[off+4:], den)
		set++
	}
	if set != 2 {
		t.Fatalf("%s: %d resolution tags", file, set)
	}
	return b
}

// TestZeroDenominatorResolutionIsUnknown: a fax whose XResolution and
// YResolution are 0/0 (a writer's "unknown", which libtiff, tiffinfo and
// every viewer read as no resolution) was refused for good as "tag
// XResolution (282): zero denominator", its image never reaching the
// exchange; a resolution that is not there is the fax standard's, as when
// the tags are missing.
func TestZeroDenominatorResolutionIsUnknown(t *testing.T) {
	for _, tc := range []struct {
		name           string
		xn, xd, yn, yd uint32
		x, y           float64
	}{
		{"0/0", 0, 0, 0, 0, 204, 196},
		{"204/0", 204, 0, 98, 0, 204, 196},
		{"x 204/1, y 98/0", 204, 1, 98, 0, 204, 196},
		{"x 0/0, y 98/1", 0, 0, 98, 1, 204, 98},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := withResolution(t, "g4-fine-1p.tif", tc.xn, tc.xd, tc.yn, tc.yd)
			f, err := Read(bytes.NewReader(b), int64(len(b)), "x.tif")
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if x, y := f.Pages[0].DPI(); x != tc.x || y != tc.y {
				t.Errorf("dpi %vx%v, want %vx%v", x, y, tc.x, tc.y)
			}
			var pdf bytes.Buffer
			if _, err := WritePDF(&pdf, bytes.NewReader(b), f); err != nil {
				t.Fatal(err)
			}
			checkXref(t, tc.name, pdf.Bytes())
		})
	}
}
