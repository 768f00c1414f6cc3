package tiffpdf

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Producer is written into the PDF Info dictionary.
const Producer = "ferry"

// WritePDF writes f, whose strip data is read from r, as a PDF 1.4 document
// to w: one PDF page per TIFF page, each page an image XObject that carries
// the TIFF's CCITT strips unchanged behind /CCITTFaxDecode (bit-reversed on
// the fly when FillOrder is 2). The output is a pure function of the input,
// so the same fax always gives the same PDF bytes and hash. Strips are
// streamed; memory use does not grow with the image. It returns the number
// of bytes written.
//
// Group 3 strips may be concatenated because every T.4 row starts with an
// EOL code preceded by any number of zero fill bits, and the first row of a
// strip is 1-D coded. Group 4 (T.6) rows reference the row above, and a new
// strip restarts from an imaginary white row, so each G4 strip becomes its
// own image, stacked on the page.
func WritePDF(w io.Writer, r io.ReaderAt, f *File) (int64, error) {
	pw := &pdfWriter{w: bufio.NewWriterSize(w, 64<<10), name: f.Name}
	if err := pw.write(r, f); err != nil {
		return pw.n, err
	}
	if err := pw.w.Flush(); err != nil {
		return pw.n, fmt.Errorf("pdf %s: write: %w", f.Name, err)
	}
	return pw.n, nil
}

// PDFSize returns the exact size WritePDF will produce, without reading any
// strip data (lengths come from StripByteCounts).
func PDFSize(f *File) int64 {
	var c countWriter
	pw := &pdfWriter{w: bufio.NewWriter(&c), name: f.Name, dry: true}
	if err := pw.write(nil, f); err != nil {
		return -1
	}
	_ = pw.w.Flush()
	return pw.n
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

type pdfWriter struct {
	w       *bufio.Writer
	n       int64
	offsets []int64 // by object number; [0] unused
	name    string
	dry     bool // PDFSize: count strip bytes without reading them
	err     error
}

func (pw *pdfWriter) printf(format string, args ...any) {
	if pw.err != nil {
		return
	}
	n, err := fmt.Fprintf(pw.w, format, args...)
	pw.n += int64(n)
	if err != nil {
		pw.err = fmt.Errorf("pdf %s: write: %w", pw.name, err)
	}
}

func (pw *pdfWriter) begin(obj int) {
	for len(pw.offsets) <= obj {
		pw.offsets = append(pw.offsets, 0)
	}
	pw.offsets[obj] = pw.n
	pw.printf("%d 0 obj\n", obj)
}

// image is one XObject: a run of strips of a page.
type image struct {
	obj        int
	strips     []int // strip indexes
	row0, rows int
	length     int64
}

// layout groups a page's strips into images.
func layout(p *Page) []image {
	n := len(p.StripOffsets)
	if p.Compression != CompressionG4 || n == 1 {
		im := image{rows: p.Height}
		for i := 0; i < n; i++ {
			im.strips = append(im.strips, i)
			im.length += p.StripByteCounts[i]
		}
		return []image{im}
	}
	out := make([]image, 0, n)
	for i := 0; i < n; i++ {
		row0 := i * p.RowsPerStrip
		rows := min(p.RowsPerStrip, p.Height-row0)
		out = append(out, image{strips: []int{i}, row0: row0, rows: rows, length: p.StripByteCounts[i]})
	}
	return out
}

func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 4, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func (pw *pdfWriter) write(r io.ReaderAt, f *File) error {
	// Object numbers: 1 catalog, 2 page tree, 3 info, then per page:
	// page, content stream, images.
	type pageObjs struct {
		page, content int
		images        []image
	}
	pages := make([]pageObjs, len(f.Pages))
	next := 4
	for i, p := range f.Pages {
		po := pageObjs{page: next, content: next + 1, images: layout(p)}
		next += 2
		for j := range po.images {
			po.images[j].obj = next
			next++
		}
		pages[i] = po
	}

	pw.printf("%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n")
	pw.begin(1)
	pw.printf("<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	pw.begin(2)
	pw.printf("<< /Type /Pages /Count %d /Kids [", len(pages))
	for i, po := range pages {
		if i > 0 {
			pw.printf(" ")
		}
		pw.printf("%d 0 R", po.page)
	}
	pw.printf("] >>\nendobj\n")
	pw.begin(3)
	pw.printf("<< /Producer (%s) >>\nendobj\n", Producer)

	for i, p := range f.Pages {
		po := pages[i]
		wpt, hpt := p.SizePoints()
		_, ydpi := p.DPI()
		pw.begin(po.page)
		pw.printf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R /Resources << /XObject <<",
			num(wpt), num(hpt), po.content)
		for j, im := range po.images {
			pw.printf(" /Im%d %d 0 R", j, im.obj)
		}
		pw.printf(" >> >> >>\nendobj\n")

		var cs strings.Builder
		for j, im := range po.images {
			h := float64(im.rows) * 72 / ydpi
			y := hpt - float64(im.row0+im.rows)*72/ydpi
			fmt.Fprintf(&cs, "q %s 0 0 %s 0 %s cm /Im%d Do Q\n", num(wpt), num(h), num(y), j)
		}
		pw.begin(po.content)
		pw.printf("<< /Length %d >>\nstream\n%sendstream\nendobj\n", cs.Len(), cs.String())

		for _, im := range po.images {
			pw.begin(im.obj)
			pw.printf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1 /Length %d",
				p.Width, im.rows, im.length)
			pw.printf("%s >>\nstream\n", filterParams(p, im.rows))
			pw.copyStrips(r, p, im)
			pw.printf("\nendstream\nendobj\n")
		}
		if pw.err != nil {
			return pw.err
		}
	}

	xref := pw.n
	pw.printf("xref\n0 %d\n0000000000 65535 f \n", len(pw.offsets))
	for _, off := range pw.offsets[1:] {
		pw.printf("%010d 00000 n \n", off)
	}
	pw.printf("trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(pw.offsets), xref)
	return pw.err
}

// filterParams returns the /Filter and /DecodeParms (or /Decode) entries
// for a page's coding (ISO 32000-1 table 11).
func filterParams(p *Page, rows int) string {
	var k int
	align := false
	switch p.Compression {
	case CompressionNone:
		// Raw rows are byte-padded in both TIFF and PDF. With WhiteIsZero a
		// 1 bit is black, the reverse of DeviceGray.
		if p.Photometric == 0 {
			return " /Decode [1 0]"
		}
		return ""
	case CompressionCCITTMH:
		k, align = 0, true
	case CompressionG3:
		if p.T4Options&T4Option2D != 0 {
			k = 1
		}
		align = p.T4Options&T4OptionFillBits != 0
	case CompressionG4:
		k = -1
	}
	var b strings.Builder
	fmt.Fprintf(&b, " /Filter /CCITTFaxDecode /DecodeParms << /K %d /Columns %d /Rows %d", k, p.Width, rows)
	// CCITT codes describe white and black runs; TIFF WhiteIsZero maps them
	// the way PDF's default (BlackIs1 false) does. BlackIsZero files carry
	// the runs inverted.
	if p.Photometric == 1 {
		b.WriteString(" /BlackIs1 true")
	}
	if align {
		b.WriteString(" /EncodedByteAlign true")
	}
	// /Rows is exact, so the decoder must not insist on an RTC/EOFB, which
	// TIFF writers often leave out (and which cannot end each G3 strip).
	b.WriteString(" /EndOfBlock false >>")
	return b.String()
}

func (pw *pdfWriter) copyStrips(r io.ReaderAt, p *Page, im image) {
	if pw.err != nil {
		return
	}
	var dst io.Writer = pw.w
	if p.FillOrder == 2 {
		dst = reverseWriter{pw.w}
	}
	for _, s := range im.strips {
		n := p.StripByteCounts[s]
		if pw.dry {
			pw.n += n
			continue
		}
		c, err := io.Copy(dst, io.NewSectionReader(r, p.StripOffsets[s], n))
		pw.n += c
		if err == nil && c != n {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			pw.err = fmt.Errorf("pdf %s: page %d: strip %d: %w", pw.name, p.Index+1, s, err)
			return
		}
	}
}

// reverseWriter reverses the bit order of each byte (TIFF FillOrder 2 puts
// the first bit in the least significant position; PDF wants it first).
type reverseWriter struct{ w *bufio.Writer }

var bitrev [256]byte

func init() {
	for i := range bitrev {
		var r byte
		for b := 0; b < 8; b++ {
			if i&(1<<b) != 0 {
				r |= 0x80 >> b
			}
		}
		bitrev[i] = r
	}
}

func (rw reverseWriter) Write(p []byte) (int, error) {
	for i, c := range p {
		if err := rw.w.WriteByte(bitrev[c]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}
