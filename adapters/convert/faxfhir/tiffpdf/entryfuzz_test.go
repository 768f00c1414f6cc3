package tiffpdf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadEntry sets one directory entry of a multi-strip fax page (its
// tag, type, count and value or offset) to what the fuzzer gives, the
// malformed files a byte-level fuzzer seldom reaches past the header:
// counts of 2^31, offsets past the end, count mismatches, loops. Read
// must not panic, and must name the file when it refuses it; a page it
// reads converts to a PDF of PDFSize bytes.
func FuzzReadEntry(f *testing.F) {
	base, err := os.ReadFile(filepath.Join(faxDir, "g4-strips-1p.tif"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), uint16(TagStripByteCounts), uint16(4), uint32(1<<31), uint32(8))
	f.Add(uint8(1), uint16(TagStripOffsets), uint16(4), uint32(7), uint32(0xffffff00))
	f.Add(uint8(2), uint16(TagXResolution), uint16(5), uint32(1), uint32(len(base)-4))
	f.Add(uint8(3), uint16(TagRowsPerStrip), uint16(3), uint32(1), uint32(0))
	f.Fuzz(func(t *testing.T, idx uint8, tag, typ uint16, count, value uint32) {
		b := bytes.Clone(base)
		le := binary.LittleEndian
		ifd := int(le.Uint32(b[4:]))
		n := int(le.Uint16(b[ifd:]))
		e := b[ifd+2+12*(int(idx)%n):]
		le.PutUint16(e, tag)
		le.PutUint16(e[2:], typ)
		le.PutUint32(e[4:], count)
		le.PutUint32(e[8:], value)
		tf, err := Read(bytes.NewReader(b), int64(len(b)), "fuzz.tif")
		if err != nil {
			var te *Error
			if !errors.As(err, &te) || te.File != "fuzz.tif" {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		var pdf bytes.Buffer
		n64, err := WritePDF(&pdf, bytes.NewReader(b), tf)
		if err != nil {
			t.Fatalf("read file fails to convert: %v", err)
		}
		if n64 != PDFSize(tf) || n64 != int64(pdf.Len()) {
			t.Fatalf("size %d, PDFSize %d, written %d", n64, PDFSize(tf), pdf.Len())
		}
	})
}
