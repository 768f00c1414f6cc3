// Package tiffpdf reads the structure of fax TIFF files (baseline TIFF 6.0
// with CCITT Group 3/4 strips, as HylaFAX, Windows Fax and fax-to-email
// services write them) and re-wraps them as PDF without decoding a single
// pixel: PDF's CCITTFaxDecode filter takes the same T.4/T.6 bit streams, so
// the strips are copied straight from the file into the PDF. Memory use is
// independent of the image size.
//
// References: TIFF 6.0 (Adobe, 1992) sections 2, 8, 11; "TIFF Class F";
// ISO 32000-1 7.4.6 (CCITTFaxDecode); HylaFAX tif_fax3 private tags.
package tiffpdf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// TIFF tag numbers ferry reads.
const (
	TagNewSubfileType            = 254
	TagImageWidth                = 256
	TagImageLength               = 257
	TagBitsPerSample             = 258
	TagCompression               = 259
	TagPhotometricInterpretation = 262
	TagFillOrder                 = 266
	TagImageDescription          = 270
	TagMake                      = 271
	TagModel                     = 272
	TagStripOffsets              = 273
	TagSamplesPerPixel           = 277
	TagRowsPerStrip              = 278
	TagStripByteCounts           = 279
	TagXResolution               = 282
	TagYResolution               = 283
	TagT4Options                 = 292
	TagT6Options                 = 293
	TagResolutionUnit            = 296
	TagPageNumber                = 297
	TagSoftware                  = 305
	TagDateTime                  = 306
	TagHostComputer              = 316
	TagTileOffsets               = 324
	TagBadFaxLines               = 326
	TagCleanFaxData              = 327
	// HylaFAX private tags (registered with Adobe by SGI/HylaFAX).
	TagFaxRecvParams = 34908
	TagFaxSubAddress = 34909
	TagFaxRecvTime   = 34910
	TagFaxDCS        = 34911
)

// Compression values ferry can pass through to PDF.
const (
	CompressionNone    = 1
	CompressionCCITTMH = 2 // modified Huffman, byte-aligned rows, no EOLs
	CompressionG3      = 3 // CCITT T.4
	CompressionG4      = 4 // CCITT T.6
)

// maxPages bounds the IFD chain so a hostile or corrupt file cannot make the
// reader loop or allocate without limit.
const maxPages = 10000

// maxStrips bounds the strip arrays of one page.
const maxStrips = 1 << 16

// File is the parsed structure of a TIFF file: one Page per IFD.
type File struct {
	// Name identifies the file in error messages (no PHI: a file name).
	Name  string
	Pages []*Page
	// Size is the file size in bytes.
	Size int64
}

// Page is one TIFF image file directory (one fax page).
type Page struct {
	Index           int // 0-based position in the IFD chain
	Width, Height   int
	BitsPerSample   int
	SamplesPerPixel int
	Compression     int
	Photometric     int // 0 WhiteIsZero (fax default), 1 BlackIsZero
	FillOrder       int // 1 MSB first, 2 LSB first (bits must be reversed for PDF)
	T4Options       uint32
	T6Options       uint32
	RowsPerStrip    int
	StripOffsets    []int64
	StripByteCounts []int64
	XResolution     float64 // pixels per ResolutionUnit; 0 when absent
	YResolution     float64
	ResolutionUnit  int // 1 none, 2 inch (default), 3 centimetre
	PageNumber      [2]int

	ImageDescription string
	DateTime         string // "YYYY:MM:DD HH:MM:SS", local time of the writer
	Make, Model      string
	Software         string
	HostComputer     string
	BadFaxLines      uint32
	CleanFaxData     int
	// HylaFAX private tags; zero values when absent.
	FaxRecvParams uint32
	FaxSubAddress string
	FaxRecvTime   uint32 // seconds spent receiving the page
	FaxDCS        string
}

// T4 option bits (TIFF 6.0 section 11).
const (
	T4Option2D           = 1 << 0
	T4OptionUncompressed = 1 << 1
	T4OptionFillBits     = 1 << 2
)

// DPI returns the horizontal and vertical resolution in pixels per inch. A
// missing or unitless resolution is assumed to be the fax standard of
// 204 x 196 (fine) or, when only the aspect ratio says so, 204 x 98 (normal).
func (p *Page) DPI() (x, y float64) {
	x, y = p.XResolution, p.YResolution
	switch p.ResolutionUnit {
	case 3:
		x, y = x*2.54, y*2.54
	case 1:
		if x > 0 && y > 0 {
			return 204, 204 * y / x
		}
		x, y = 0, 0
	}
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		x = 204
	}
	if y <= 0 || math.IsNaN(y) || math.IsInf(y, 0) {
		y = 196
	}
	return x, y
}

// SizePoints is the page size in PDF points (1/72 inch).
func (p *Page) SizePoints() (w, h float64) {
	x, y := p.DPI()
	return float64(p.Width) * 72 / x, float64(p.Height) * 72 / y
}

// TSI returns the first line of ImageDescription, where HylaFAX stores the
// sender's transmitting subscriber identification (sender-set, untrusted).
func (p *Page) TSI() string {
	line, _, _ := strings.Cut(p.ImageDescription, "\n")
	return strings.TrimSpace(line)
}

// CallID returns the lines of ImageDescription after the first, where
// HylaFAX stores caller-id facts (CIDNumber, CIDName; HylaFAX+ writes
// "label\tvalue").
func (p *Page) CallID() []string {
	_, rest, ok := strings.Cut(p.ImageDescription, "\n")
	if !ok {
		return nil
	}
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// Error is a structured TIFF error naming the file, page and tag.
type Error struct {
	File string
	Page int // -1 for header errors
	Tag  int // 0 when not about a tag
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("tiff ")
	b.WriteString(e.File)
	if e.Page >= 0 {
		fmt.Fprintf(&b, ": page %d", e.Page+1)
	}
	if e.Tag != 0 {
		fmt.Fprintf(&b, ": tag %s (%d)", tagName(e.Tag), e.Tag)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotTIFF is wrapped by Read when the header is not a TIFF header.
var ErrNotTIFF = errors.New("not a tiff file")

// ErrUnsupported is wrapped when the file is valid TIFF that cannot be
// passed through to PDF (e.g. LZW colour scans).
var ErrUnsupported = errors.New("unsupported")

func tagName(t int) string {
	switch t {
	case TagNewSubfileType:
		return "NewSubfileType"
	case TagImageWidth:
		return "ImageWidth"
	case TagImageLength:
		return "ImageLength"
	case TagBitsPerSample:
		return "BitsPerSample"
	case TagCompression:
		return "Compression"
	case TagPhotometricInterpretation:
		return "PhotometricInterpretation"
	case TagFillOrder:
		return "FillOrder"
	case TagImageDescription:
		return "ImageDescription"
	case TagMake:
		return "Make"
	case TagModel:
		return "Model"
	case TagStripOffsets:
		return "StripOffsets"
	case TagTileOffsets:
		return "TileOffsets"
	case TagSamplesPerPixel:
		return "SamplesPerPixel"
	case TagRowsPerStrip:
		return "RowsPerStrip"
	case TagStripByteCounts:
		return "StripByteCounts"
	case TagXResolution:
		return "XResolution"
	case TagYResolution:
		return "YResolution"
	case TagT4Options:
		return "T4Options"
	case TagT6Options:
		return "T6Options"
	case TagResolutionUnit:
		return "ResolutionUnit"
	case TagPageNumber:
		return "PageNumber"
	case TagSoftware:
		return "Software"
	case TagDateTime:
		return "DateTime"
	case TagHostComputer:
		return "HostComputer"
	case TagBadFaxLines:
		return "BadFaxLines"
	case TagCleanFaxData:
		return "CleanFaxData"
	case TagFaxRecvParams:
		return "FaxRecvParams"
	case TagFaxSubAddress:
		return "FaxSubAddress"
	case TagFaxRecvTime:
		return "FaxRecvTime"
	case TagFaxDCS:
		return "FaxDCS"
	}
	return "tag"
}

// IsTIFF reports whether head (at least 4 bytes) starts a classic TIFF file.
func IsTIFF(head []byte) bool {
	return len(head) >= 4 && (string(head[:4]) == "II*\x00" || string(head[:4]) == "MM\x00*")
}

// Read parses the TIFF structure of r (size bytes long). Only the header and
// directories are read; strip data stays in r. name is used in errors.
func Read(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{Name: name, Size: size}
	var hdr [8]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &Error{File: name, Page: -1, Err: fmt.Errorf("read header: %w", ErrNotTIFF)}
		}
		return nil, &Error{File: name, Page: -1, Err: fmt.Errorf("read header: %w", err)}
	}
	var bo binary.ByteOrder
	switch string(hdr[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return nil, &Error{File: name, Page: -1, Err: ErrNotTIFF}
	}
	switch bo.Uint16(hdr[2:]) {
	case 42:
	case 43:
		return nil, &Error{File: name, Page: -1, Err: fmt.Errorf("bigtiff: %w", ErrUnsupported)}
	default:
		return nil, &Error{File: name, Page: -1, Err: ErrNotTIFF}
	}
	rd := &reader{r: r, size: size, bo: bo, name: name}
	off := int64(bo.Uint32(hdr[4:]))
	seen := map[int64]bool{}
	for off != 0 {
		idx := len(f.Pages)
		if idx >= maxPages {
			return nil, &Error{File: name, Page: idx, Err: fmt.Errorf("more than %d pages", maxPages)}
		}
		if seen[off] {
			return nil, &Error{File: name, Page: idx, Err: errors.New("directory chain loops")}
		}
		seen[off] = true
		p, next, err := rd.readIFD(off, idx)
		if err != nil {
			return nil, err
		}
		// Reduced-resolution images (thumbnails) are not pages.
		if p != nil {
			p.Index = len(f.Pages)
			f.Pages = append(f.Pages, p)
		}
		off = next
	}
	if len(f.Pages) == 0 {
		return nil, &Error{File: name, Page: -1, Err: errors.New("no pages")}
	}
	return f, nil
}

type reader struct {
	r    io.ReaderAt
	size int64
	bo   binary.ByteOrder
	name string
	// values counts the bytes of directory values read from the file.
	// Distinct values of a real file never add up to more than the file
	// (plus some shared ones); pages that all point at one large strip
	// array would make a small file decode it once per page.
	values int64
	// dirs counts the bytes of the directories read so far: those of
	// a real file are distinct runs of it, so they fit in it; ones that
	// overlap would have each parsed whole.
	dirs int64
	// strips counts the strip bytes of the pages read so far: the
	// strips of a real file are distinct runs of it, so they fit in it;
	// pages sharing one would each copy it into the PDF again.
	strips int64
}

// valueSlack is how far directory values may add up beyond the file size
// (values a writer shares between pages, such as one resolution).
const valueSlack = 1 << 20

type entry struct {
	tag, typ int
	count    uint32
	raw      [4]byte // value or offset field
}

var typeSize = map[int]int{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}

// The field types the reader reads each kind of field from: TIFF 6.0
// section 2 ("TIFF readers should accept BYTE, SHORT, or LONG values for
// any unsigned integer field"), and the UNDEFINED and BYTE text some
// writers give.
var (
	textTypes     = []int{1, 2, 7}
	intTypes      = []int{1, 3, 4, 7}
	rationalTypes = []int{1, 3, 4, 5, 7, 10}
)

// optionalFields are the fields a page is read without, by the types
// they are read from. One of another type is skipped, as TIFF 6.0
// section 2 asks ("Readers should skip over fields containing an
// unexpected field type"); the fields the image needs keep their errors.
var optionalFields = map[int][]int{
	TagImageDescription: textTypes, TagMake: textTypes, TagModel: textTypes,
	TagSoftware: textTypes, TagDateTime: textTypes, TagHostComputer: textTypes,
	TagFaxSubAddress: textTypes, TagFaxDCS: textTypes,
	TagPageNumber: intTypes, TagBadFaxLines: intTypes, TagCleanFaxData: intTypes,
	TagFaxRecvParams: intTypes, TagFaxRecvTime: intTypes, TagResolutionUnit: intTypes,
	TagXResolution: rationalTypes, TagYResolution: rationalTypes,
}

func (rd *reader) errf(page, tag int, format string, args ...any) error {
	return &Error{File: rd.name, Page: page, Tag: tag, Err: fmt.Errorf(format, args...)}
}

// data returns the bytes of an entry's value, reading from the file when the
// value does not fit in the entry.
func (rd *reader) data(e entry, page int) ([]byte, error) {
	ts, ok := typeSize[e.typ]
	if !ok {
		return nil, rd.errf(page, e.tag, "unknown field type %d", e.typ)
	}
	n := int64(ts) * int64(e.count)
	if n <= 4 {
		return e.raw[:n], nil
	}
	off := int64(rd.bo.Uint32(e.raw[:]))
	if n > 64<<20 || off+n > rd.size {
		return nil, rd.errf(page, e.tag, "value of %d bytes at offset %d lies outside the file", n, off)
	}
	if rd.values += n; rd.values > rd.size+valueSlack {
		return nil, rd.errf(page, e.tag, "directory values add up to more than the file (%d bytes): pages share them", rd.size)
	}
	b := make([]byte, n)
	if _, err := rd.r.ReadAt(b, off); err != nil {
		return nil, rd.errf(page, e.tag, "read value: %w", err)
	}
	return b, nil
}

// ints decodes an unsigned integer array (BYTE, SHORT, LONG).
func (rd *reader) ints(e entry, page int) ([]int64, error) {
	if e.count > maxStrips {
		return nil, rd.errf(page, e.tag, "%d values is too many", e.count)
	}
	b, err := rd.data(e, page)
	if err != nil {
		return nil, err
	}
	out := make([]int64, e.count)
	for i := range out {
		switch e.typ {
		case 1, 7:
			out[i] = int64(b[i])
		case 3:
			out[i] = int64(rd.bo.Uint16(b[2*i:]))
		case 4:
			out[i] = int64(rd.bo.Uint32(b[4*i:]))
		default:
			return nil, rd.errf(page, e.tag, "field type %d is not an unsigned integer", e.typ)
		}
	}
	return out, nil
}

func (rd *reader) int1(e entry, page int) (int64, error) {
	v, err := rd.ints(e, page)
	if err != nil {
		return 0, err
	}
	if len(v) == 0 {
		return 0, rd.errf(page, e.tag, "no value")
	}
	return v[0], nil
}

func (rd *reader) rational(e entry, page int) (float64, error) {
	if e.typ != 5 && e.typ != 10 {
		// Some writers store resolution as SHORT/LONG.
		v, err := rd.int1(e, page)
		return float64(v), err
	}
	if e.count < 1 {
		return 0, rd.errf(page, e.tag, "no value")
	}
	b, err := rd.data(entry{tag: e.tag, typ: e.typ, count: 1, raw: e.raw}, page)
	if err != nil {
		return 0, err
	}
	num, den := rd.bo.Uint32(b), rd.bo.Uint32(b[4:])
	if den == 0 {
		// 0/0 is how some writers say "unknown", and libtiff reads any
		// x/0 as 0: no resolution, so the page gets the fax standard's
		// (DPI), as when the tag is missing.
		return 0, nil
	}
	if e.typ == 10 {
		return float64(int32(num)) / float64(int32(den)), nil
	}
	return float64(num) / float64(den), nil
}

func (rd *reader) ascii(e entry, page int) (string, error) {
	if e.typ != 2 && e.typ != 1 && e.typ != 7 {
		return "", rd.errf(page, e.tag, "field type %d is not ASCII", e.typ)
	}
	b, err := rd.data(e, page)
	if err != nil {
		return "", err
	}
	// NUL-terminated; several NUL-separated strings are joined by newlines.
	s := strings.TrimRight(string(b), "\x00")
	return strings.ReplaceAll(s, "\x00", "\n"), nil
}

// readIFD parses one directory. It returns a nil page for reduced-resolution
// subfiles.
func (rd *reader) readIFD(off int64, page int) (*Page, int64, error) {
	var nb [2]byte
	if off+2 > rd.size {
		return nil, 0, rd.errf(page, 0, "directory offset %d lies outside the file", off)
	}
	if _, err := rd.r.ReadAt(nb[:], off); err != nil {
		return nil, 0, rd.errf(page, 0, "read directory: %w", err)
	}
	n := int64(rd.bo.Uint16(nb[:]))
	if off+2+n*12+4 > rd.size {
		return nil, 0, rd.errf(page, 0, "directory of %d entries at offset %d is truncated", n, off)
	}
	if rd.dirs += 2 + n*12 + 4; rd.dirs > rd.size {
		return nil, 0, rd.errf(page, 0, "directories add up to more than the file (%d bytes): they overlap", rd.size)
	}
	buf := make([]byte, n*12+4)
	if _, err := rd.r.ReadAt(buf, off+2); err != nil {
		return nil, 0, rd.errf(page, 0, "read directory: %w", err)
	}
	next := int64(rd.bo.Uint32(buf[n*12:]))
	p := &Page{
		BitsPerSample: 1, SamplesPerPixel: 1, Compression: CompressionNone,
		FillOrder: 1, ResolutionUnit: 2, Photometric: -1,
	}
	var err error
	var v int64
	subfile := int64(0)
	tiled := false
	for i := int64(0); i < n; i++ {
		b := buf[i*12:]
		e := entry{tag: int(rd.bo.Uint16(b)), typ: int(rd.bo.Uint16(b[2:])), count: rd.bo.Uint32(b[4:])}
		copy(e.raw[:], b[8:12])
		if types, ok := optionalFields[e.tag]; ok && !slices.Contains(types, e.typ) {
			continue
		}
		switch e.tag {
		case TagNewSubfileType:
			subfile, err = rd.int1(e, page)
		case TagImageWidth:
			v, err = rd.int1(e, page)
			p.Width = int(v)
		case TagImageLength:
			v, err = rd.int1(e, page)
			p.Height = int(v)
		case TagBitsPerSample:
			v, err = rd.int1(e, page)
			p.BitsPerSample = int(v)
		case TagSamplesPerPixel:
			v, err = rd.int1(e, page)
			p.SamplesPerPixel = int(v)
		case TagCompression:
			v, err = rd.int1(e, page)
			p.Compression = int(v)
		case TagPhotometricInterpretation:
			v, err = rd.int1(e, page)
			p.Photometric = int(v)
		case TagFillOrder:
			v, err = rd.int1(e, page)
			p.FillOrder = int(v)
		case TagT4Options:
			v, err = rd.int1(e, page)
			p.T4Options = uint32(v)
		case TagT6Options:
			v, err = rd.int1(e, page)
			p.T6Options = uint32(v)
		case TagRowsPerStrip:
			v, err = rd.int1(e, page)
			p.RowsPerStrip = int(v)
		case TagStripOffsets:
			p.StripOffsets, err = rd.ints(e, page)
		case TagStripByteCounts:
			p.StripByteCounts, err = rd.ints(e, page)
		case TagTileOffsets:
			tiled = true
		case TagXResolution:
			p.XResolution, err = rd.rational(e, page)
		case TagYResolution:
			p.YResolution, err = rd.rational(e, page)
		case TagResolutionUnit:
			v, err = rd.int1(e, page)
			p.ResolutionUnit = int(v)
		case TagPageNumber:
			var vs []int64
			if vs, err = rd.ints(e, page); err == nil && len(vs) >= 2 {
				p.PageNumber = [2]int{int(vs[0]), int(vs[1])}
			}
		case TagImageDescription:
			p.ImageDescription, err = rd.ascii(e, page)
		case TagMake:
			p.Make, err = rd.ascii(e, page)
		case TagModel:
			p.Model, err = rd.ascii(e, page)
		case TagSoftware:
			p.Software, err = rd.ascii(e, page)
		case TagDateTime:
			p.DateTime, err = rd.ascii(e, page)
		case TagHostComputer:
			p.HostComputer, err = rd.ascii(e, page)
		case TagBadFaxLines:
			v, err = rd.int1(e, page)
			p.BadFaxLines = uint32(v)
		case TagCleanFaxData:
			v, err = rd.int1(e, page)
			p.CleanFaxData = int(v)
		case TagFaxRecvParams:
			v, err = rd.int1(e, page)
			p.FaxRecvParams = uint32(v)
		case TagFaxSubAddress:
			p.FaxSubAddress, err = rd.ascii(e, page)
		case TagFaxRecvTime:
			v, err = rd.int1(e, page)
			p.FaxRecvTime = uint32(v)
		case TagFaxDCS:
			p.FaxDCS, err = rd.ascii(e, page)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if subfile&1 != 0 {
		return nil, next, nil // reduced-resolution version of another image
	}
	if tiled && len(p.StripOffsets) == 0 {
		// Valid TIFF (section 15), but fax pages come in strips: say so
		// rather than that the strips are missing.
		return nil, 0, rd.errf(page, TagTileOffsets, "tiled image: %w (fax pages are in strips: tiffcp -s in.tif out.tif rewrites it so)", ErrUnsupported)
	}
	if err := rd.check(p, page); err != nil {
		return nil, 0, err
	}
	return p, next, nil
}

// check validates the fields the PDF writer relies on.
func (rd *reader) check(p *Page, page int) error {
	if p.Width <= 0 || p.Width > 1<<16 {
		return rd.errf(page, TagImageWidth, "width %d out of range", p.Width)
	}
	if p.Height <= 0 || p.Height > 1<<20 {
		return rd.errf(page, TagImageLength, "length %d out of range", p.Height)
	}
	if p.SamplesPerPixel != 1 {
		return rd.errf(page, TagSamplesPerPixel, "%d samples per pixel: %w (fax pages are bilevel)", p.SamplesPerPixel, ErrUnsupported)
	}
	if p.BitsPerSample != 1 {
		return rd.errf(page, TagBitsPerSample, "%d bits per sample: %w (fax pages are bilevel)", p.BitsPerSample, ErrUnsupported)
	}
	switch p.Compression {
	case CompressionNone, CompressionCCITTMH, CompressionG3, CompressionG4:
	default:
		return rd.errf(page, TagCompression, "compression %d: %w (want 1, 2, 3 or 4)", p.Compression, ErrUnsupported)
	}
	switch p.Photometric {
	case -1:
		p.Photometric = 0 // Class F default: WhiteIsZero
	case 0, 1:
	default:
		return rd.errf(page, TagPhotometricInterpretation, "photometric %d: %w (want 0 or 1)", p.Photometric, ErrUnsupported)
	}
	if p.FillOrder != 1 && p.FillOrder != 2 {
		return rd.errf(page, TagFillOrder, "fill order %d: want 1 or 2", p.FillOrder)
	}
	if p.Compression == CompressionG4 && p.T6Options&^1 != 0 {
		return rd.errf(page, TagT6Options, "options %#x: %w", p.T6Options, ErrUnsupported)
	}
	if len(p.StripOffsets) == 0 {
		return rd.errf(page, TagStripOffsets, "missing")
	}
	if len(p.StripByteCounts) != len(p.StripOffsets) {
		return rd.errf(page, TagStripByteCounts, "%d counts for %d strips", len(p.StripByteCounts), len(p.StripOffsets))
	}
	if p.RowsPerStrip <= 0 || p.RowsPerStrip > p.Height {
		p.RowsPerStrip = p.Height
	}
	if want := (p.Height + p.RowsPerStrip - 1) / p.RowsPerStrip; want != len(p.StripOffsets) {
		return rd.errf(page, TagStripOffsets, "%d strips, want %d for %d rows of %d", len(p.StripOffsets), want, p.Height, p.RowsPerStrip)
	}
	if len(p.StripByteCounts) == 1 && p.StripByteCounts[0] == 0 {
		// The writer did not know the page's size when it wrote the
		// tag. libtiff guesses it; ferry would pass on a blank page.
		return rd.errf(page, TagStripByteCounts, "0 bytes in the page's one strip: the file does not say where its image ends (tiffcp in.tif out.tif rewrites it with its size)")
	}
	for i, o := range p.StripOffsets {
		c := p.StripByteCounts[i]
		if o < 0 || c < 0 || o+c > rd.size {
			return rd.errf(page, TagStripOffsets, "strip %d (%d bytes at %d) lies outside the file of %d bytes", i, c, o, rd.size)
		}
		if rd.strips += c; rd.strips > rd.size {
			return rd.errf(page, TagStripByteCounts, "strips add up to more than the file (%d bytes): pages share them", rd.size)
		}
	}
	return nil
}
