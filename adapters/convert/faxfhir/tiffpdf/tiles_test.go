package tiffpdf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadTiledRefused: a tiled image (TIFF 6.0 section 15, TileOffsets
// and TileByteCounts where a fax has strips, as tiffcp -t writes it) is
// a valid TIFF this package does not pass through. It was refused as
// "tag StripOffsets (273): missing", which reads as a damaged file; now
// the error says the image is tiled and wraps ErrUnsupported, as for an
// unsupported compression.
func TestReadTiledRefused(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(faxDir, "g4-fine-1p.tif"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	ifd := int(le.Uint32(b[4:]))
	n := int(le.Uint16(b[ifd:]))
	for i := 0; i < n; i++ {
		e := b[ifd+2+12*i:]
		switch le.Uint16(e) {
		case TagStripOffsets:
			le.PutUint16(e, 324) // TileOffsets
		case TagStripByteCounts:
			le.PutUint16(e, 325) // TileByteCounts
		case TagRowsPerStrip:
			le.PutUint16(e, 323) // TileLength
		}
	}
	_, err = Read(bytes.NewReader(b), int64(len(b)), "x.tif")
	if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "tiled") {
		t.Errorf("tiled image: %v, want an unsupported tiled image", err)
	}
}
