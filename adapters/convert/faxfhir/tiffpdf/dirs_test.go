package tiffpdf

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"
)

// overlappingDirsTIFF builds a little-endian TIFF of dirs directories,
// each 8 bytes after the one before it and each declaring n entries
// (12n bytes), so that they overlap almost wholly. Every one holds, among
// entries of tags no one reads, a NewSubfileType of 1 (a reduced-resolution
// image, not a page), and links to the next: a file of about 12n bytes is
// dirs directories of 12n bytes each.
func overlappingDirsTIFF(dirs, n int) []byte {
	le := binary.LittleEndian
	const base = 400 // the links' low 16 bits stay clear of the tags Read knows
	span := 2 + 12*n // n is even, so each link lands 2 bytes into an 8-byte cell
	b := make([]byte, base+span+8*dirs+4)
	copy(b, "II*\x00")
	le.PutUint32(b[4:], base)
	for k := 0; k < dirs; k++ {
		o := base + 8*k
		le.PutUint16(b[o:], uint16(n))
		next := uint32(0)
		if k < dirs-1 {
			next = uint32(o + 8)
		}
		le.PutUint32(b[o+span:], next)
	}
	// Three NewSubfileType entries 16 bytes apart: each directory's
	// entries fall on one of them.
	p := base + 2 + 4*100000
	for i := 0; i < 3; i++ {
		e := b[p+16*i:]
		le.PutUint16(e, TagNewSubfileType)
		le.PutUint16(e[2:], 4)
		le.PutUint32(e[4:], 1)
		le.PutUint32(e[8:], 1)
	}
	return b
}

// TestReadDirectoriesBoundedByFile: directories at distinct offsets that
// overlap made Read parse and allocate each one whole: these 1,000 of
// 65,534 entries, in an 800 KB file, were 787 MB allocated and 65 million
// entries read, and a file a few MB long of more of them kept a fax inbox
// busy for minutes (reduced-resolution directories are not pages, so the
// page limit never applied). The directories of a real file are distinct
// runs of it, so together they fit in it.
func TestReadDirectoriesBoundedByFile(t *testing.T) {
	data := overlappingDirsTIFF(1000, 65534)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(data), int64(len(data)), "x.tif")
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(16*len(data)) {
		t.Errorf("Read of a %d-byte file allocated %d bytes; err = %v", len(data), alloc, err)
	}
	if err == nil {
		t.Fatal("crafted file accepted")
	}
	t.Log(err)
}
