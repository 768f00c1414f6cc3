package tiffpdf

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"
)

// sharedStripsTIFF builds a little-endian TIFF of pages pages that all
// point their StripOffsets and StripByteCounts at one shared array of
// strips zero LONGs: every page is valid on its own (empty strips inside
// the file), but each one makes the reader decode the whole array again.
func sharedStripsTIFF(pages, strips int) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("II*\x00")
	arr := 8
	ifd0 := arr + 4*strips
	binary.Write(&b, le, uint32(ifd0))
	b.Write(make([]byte, 4*strips))
	type ent struct {
		tag, typ uint16
		count    uint32
		val      uint32
	}
	const ifdLen = 2 + 6*12 + 4
	for p := 0; p < pages; p++ {
		ents := []ent{
			{TagImageWidth, 3, 1, 1728},
			{TagImageLength, 4, 1, uint32(strips)},
			{TagCompression, 3, 1, CompressionG4},
			{TagStripOffsets, 4, uint32(strips), uint32(arr)},
			{TagRowsPerStrip, 4, 1, 1},
			{TagStripByteCounts, 4, uint32(strips), uint32(arr)},
		}
		binary.Write(&b, le, uint16(len(ents)))
		for _, e := range ents {
			binary.Write(&b, le, e.tag)
			binary.Write(&b, le, e.typ)
			binary.Write(&b, le, e.count)
			binary.Write(&b, le, e.val)
		}
		next := uint32(0)
		if p < pages-1 {
			next = uint32(ifd0 + (p+1)*ifdLen)
		}
		binary.Write(&b, le, next)
	}
	return b.Bytes()
}

// TestReadMemoryBoundedByFile: a small crafted TIFF whose pages share one
// strip array must not make Read allocate hundreds of times the file's
// size (at the 10000-page limit this one would take 10 GB from 600 KB).
func TestReadMemoryBoundedByFile(t *testing.T) {
	data := sharedStripsTIFF(64, 1<<16)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := Read(bytes.NewReader(data), int64(len(data)), "x.tif")
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if limit := uint64(16 * len(data)); alloc > limit {
		t.Errorf("Read of a %d-byte file allocated %d bytes (> %d); err = %v", len(data), alloc, limit, err)
	}
	if err == nil {
		t.Errorf("crafted file accepted with %d pages", len(f.Pages))
	}
	// The same layout with one page is an ordinary (empty) fax page.
	one := sharedStripsTIFF(1, 1<<16)
	if _, err := Read(bytes.NewReader(one), int64(len(one)), "one.tif"); err != nil {
		t.Errorf("one page: %v", err)
	}
}

// TestPDFBoundedByFile: pages whose strips are one shared run of the file
// would each copy it into the PDF again; a 1 MB TIFF of 10000 such pages
// is a 10 GB bundle in the queue. The strips of a real fax are distinct,
// so all of them together fit in the file.
func TestPDFBoundedByFile(t *testing.T) {
	const pages, strip = 50, 64 << 10
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("II*\x00")
	ifd0 := 8 + strip
	binary.Write(&b, le, uint32(ifd0))
	b.Write(bytes.Repeat([]byte{0xAA}, strip))
	const ifdLen = 2 + 6*12 + 4
	for p := 0; p < pages; p++ {
		ents := [][4]uint32{
			{TagImageWidth, 3, 1, 1728},
			{TagImageLength, 4, 1, 100},
			{TagCompression, 3, 1, CompressionG4},
			{TagStripOffsets, 4, 1, 8},
			{TagRowsPerStrip, 4, 1, 100},
			{TagStripByteCounts, 4, 1, strip},
		}
		binary.Write(&b, le, uint16(len(ents)))
		for _, e := range ents {
			binary.Write(&b, le, uint16(e[0]))
			binary.Write(&b, le, uint16(e[1]))
			binary.Write(&b, le, e[2])
			binary.Write(&b, le, e[3])
		}
		next := uint32(0)
		if p < pages-1 {
			next = uint32(ifd0 + (p+1)*ifdLen)
		}
		binary.Write(&b, le, next)
	}
	data := b.Bytes()
	f, err := Read(bytes.NewReader(data), int64(len(data)), "x.tif")
	if err == nil {
		if n := PDFSize(f); n > 4*int64(len(data)) {
			t.Errorf("a %d-byte TIFF of %d pages renders a %d-byte PDF", len(data), len(f.Pages), n)
		}
	}
}
