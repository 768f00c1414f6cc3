package csvfhir

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// Decode returns the file's text as UTF-8, and the name of the encoding
// it was read in. A byte-order mark for UTF-8 or UTF-16 decides; else
// enc, Mapping.Encoding, does, and empty lets the bytes decide (UTF-8
// when valid, and Windows-1252 when not, the "ANSI" of Windows programs,
// whose every byte means a character). A file that is neither (UTF-8 in
// some rows, not in others) is refused: read either way, some of its
// names would be wrong.
func Decode(b []byte, enc string) (string, string, error) {
	enc = strings.ToLower(enc)
	if enc == "" || slices.Contains(Encodings, enc) {
		// The mark is the file's own word, and no text in a code page
		// begins with its bytes (ï»¿, ÿþ): a mapping written for the
		// Windows code page read an export since saved as UTF-8 (Excel's
		// "CSV UTF-8") garbled, "Müller" as "MÃ¼ller".
		switch {
		case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
			enc = "utf-8"
		case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
			enc = "utf-16"
		}
	}
	switch {
	case enc == "" && bytes.IndexByte(b, 0) >= 0:
		// No text export holds a NUL, but UTF-16 without its mark (bcp
		// -w, some PowerShell pipelines) has one beside every ASCII
		// letter, and read as UTF-8 its header would lack every column.
		line := 1 + bytes.Count(b[:bytes.IndexByte(b, 0)], []byte{'\n'})
		return "", "", fmt.Errorf("line %d holds NUL bytes: the file looks like UTF-16 without a byte-order mark (set encoding: utf-16)", line)
	case enc == "" && bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}), enc == "utf-8":
		b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
		if !utf8.Valid(b) {
			line := 1 + bytes.Count(b[:invalidAt(b)], []byte{'\n'})
			return "", "", fmt.Errorf("line %d: not valid UTF-8 (set encoding: windows-1252 if the export is in the Windows code page)", line)
		}
		return string(b), "utf-8", nil
	case enc == "" && (bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF})), enc == "utf-16":
		// Without a byte-order mark, little-endian: what Windows writes.
		d := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
		s, err := decodeWith(d, b)
		if err != nil {
			return "", "", fmt.Errorf("not valid UTF-16: %w", err)
		}
		return strings.TrimPrefix(s, "\uFEFF"), "utf-16", nil
	case enc == "" && utf8.Valid(b):
		return string(b), "utf-8", nil
	case enc == "" && utf8At(b) >= 0:
		// UTF-8 in some rows and not in others: read as Windows-1252,
		// the UTF-8 rows' names would reach the exchange as mojibake
		// ("Müller" as "MÃ¼ller"); read as UTF-8, the others cannot be.
		nl := []byte{'\n'}
		return "", "", fmt.Errorf("line %d is UTF-8 but line %d is not: the export mixes two encodings (set encoding: windows-1252 or utf-8 if the file is in one)",
			1+bytes.Count(b[:utf8At(b)], nl), 1+bytes.Count(b[:invalidAt(b)], nl))
	case enc == "", enc == "windows-1252":
		s, err := decodeWith(charmap.Windows1252.NewDecoder(), b)
		return s, "windows-1252", err
	case enc == "iso-8859-1":
		s, err := decodeWith(charmap.ISO8859_1.NewDecoder(), b)
		return s, "iso-8859-1", err
	}
	return "", "", fmt.Errorf("unknown encoding %q", enc)
}

func decodeWith(d *encoding.Decoder, b []byte) (string, error) {
	out, err := d.Bytes(b)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// utf8At returns the offset of the first multi-byte UTF-8 sequence in b,
// or -1. Windows-1252 text almost never holds one by chance: it takes a
// letter such as Ã or â followed by one to three of the symbols and
// punctuation of 0x80-0xBF.
func utf8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if n > 1 && r != utf8.RuneError {
			return i
		}
		i += n
	}
	return -1
}

// invalidAt returns the offset of the first byte of b that is not valid
// UTF-8.
func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// dropEOFMark removes a Ctrl-Z (0x1A) that ends the text, before any
// final line break: the end-of-file mark DOS-era databases (dBase,
// FoxPro: COPY TO ... DELIMITED) still write, which would otherwise be
// a last row of one field that refuses the file.
func dropEOFMark(text string) string {
	t := strings.TrimRight(text, "\r\n")
	if s, ok := strings.CutSuffix(t, "\x1a"); ok {
		return s
	}
	return text
}

// crLineEnds returns text with its line ends as line feeds when its
// lines end with a carriage return alone, as Excel for Mac's "CSV
// (Macintosh)" and other classic Mac OS programs write them (a line
// break inside a cell being a line feed there): the csv reader ends a
// row at a line feed only, and would read such a file as one row.
// Whether they do is told by the first line end outside quotes, as
// SniffDelimiter finds the header's end; a carriage return inside
// quotes stays. Any other text comes back as it is.
func crLineEnds(text string) string {
	i := lineEnd(text)
	if i < 0 || text[i] != '\r' || strings.HasPrefix(text[i:], "\r\n") {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	inQuotes := false
	for j := 0; j < len(text); j++ {
		c := text[j]
		switch {
		case c == '"':
			inQuotes = !inQuotes
		case c == '\r' && !inQuotes && !strings.HasPrefix(text[j:], "\r\n"):
			c = '\n'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// lineEnd is the offset of the first '\r' or '\n' of text outside
// quotes, or -1.
func lineEnd(text string) int {
	inQuotes := false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"':
			inQuotes = !inQuotes
		case !inQuotes && (c == '\r' || c == '\n'):
			return i
		}
	}
	return -1
}

// SniffDelimiter picks the delimiter of a CSV text from its header line:
// the one of , ; TAB | that occurs most often outside quotes (a comma
// when none does). European spreadsheets write ';', because ',' is their
// decimal point.
func SniffDelimiter(text string) rune {
	counts := map[rune]int{}
	inQuotes := false
	for _, r := range text {
		if r == '"' {
			inQuotes = !inQuotes
			continue
		}
		if !inQuotes && (r == '\n' || r == '\r') {
			break
		}
		if !inQuotes {
			switch r {
			case ',', ';', '\t', '|':
				counts[r]++
			}
		}
	}
	best, n := ',', 0
	for _, r := range []rune{',', ';', '\t', '|'} {
		if counts[r] > n {
			best, n = r, counts[r]
		}
	}
	return best
}

// record is one data row of the file.
type record struct {
	line   int // 1-based line of the file the row starts on
	fields []string
}

// table reads the data rows of a CSV text one at a time (next), and one
// row again from where it starts (at), so that a large export need not be
// held parsed in memory. A row with fewer or more fields than the header
// is a row error; a quote out of place ends the read, since what follows
// it cannot be told apart reliably.
type table struct {
	text   string
	delim  rune
	header []string
	r      *csv.Reader
	sr     strings.Reader
	br     *bufio.Reader
}

// rowAt is where a data row starts: its byte offset in the text and its
// line.
type rowAt struct {
	off  int64
	line int
}

func newTable(text string, delim rune) (*table, error) {
	t := &table{text: text, delim: delim}
	t.r = t.reader(text)
	fields, err := t.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: not even a header line")
	}
	if err != nil {
		return nil, csvError(err)
	}
	t.header = make([]string, len(fields))
	for i, f := range fields {
		t.header[i] = strings.TrimSpace(strings.TrimPrefix(f, "\uFEFF"))
	}
	return t, nil
}

func (t *table) reader(text string) *csv.Reader {
	t.sr.Reset(text)
	if t.br == nil {
		t.br = bufio.NewReaderSize(&t.sr, 64<<10)
	} else {
		t.br.Reset(&t.sr)
	}
	// csv.NewReader keeps a *bufio.Reader of at least its own size as it
	// is, so reading a row again allocates no new buffer.
	r := csv.NewReader(t.br)
	r.Comma = t.delim
	r.FieldsPerRecord = -1
	// Report writers that separate fields with ", " quote a field after
	// that space (1, "Smith, Jr"), which the reader would take for a
	// quote inside an unquoted field and refuse the file. Cells are
	// trimmed anyway. Not with a tab: there a leading tab is an empty
	// field, which skipping white space would swallow.
	r.TrimLeadingSpace = t.delim != '\t'
	return r
}

// next returns the next data row and where it starts; blank rows are
// skipped. A row with the wrong number of fields comes back as errs
// (rec empty), the end of the text as rec.fields == nil.
func (t *table) next() (rec record, at rowAt, errs []RowError, err error) {
	for {
		off := t.r.InputOffset()
		fields, err := t.r.Read()
		if errors.Is(err, io.EOF) {
			return record{}, rowAt{}, nil, nil
		}
		if err != nil {
			return record{}, rowAt{}, nil, csvError(err)
		}
		line, _ := t.r.FieldPos(0)
		if blank(fields) {
			continue
		}
		if len(fields) != len(t.header) {
			return record{}, rowAt{}, []RowError{{Line: line, Msg: fmt.Sprintf("%d fields, but the header has %d", len(fields), len(t.header))}}, nil
		}
		return record{line: line, fields: fields}, rowAt{off: off, line: line}, nil, nil
	}
}

// at reads again the row that next found at a. It leaves next's reading
// where it was only if next is not called again: the first pass is over
// before the second begins.
func (t *table) at(a rowAt) (record, error) {
	r := t.reader(t.text[a.off:])
	for {
		fields, err := r.Read()
		if err != nil {
			return record{}, fmt.Errorf("line %d: read again: %w", a.line, csvError(err))
		}
		if blank(fields) {
			continue
		}
		return record{line: a.line, fields: fields}, nil
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if pe.StartLine != 0 && pe.StartLine != pe.Line {
			// A quote opened and never closed takes in the lines after
			// it until a later quote: where the reader gives up has
			// nothing wrong on it; the row that opened the quote has.
			return fmt.Errorf("line %d, character %d: %v, in the row that starts on line %d (a quote opened in it and not closed takes in the lines after it; quote a field that holds the delimiter, a quote or a line break, and double the quotes inside it)",
				pe.Line, pe.Column, pe.Err, pe.StartLine)
		}
		return fmt.Errorf("line %d, character %d: %v (quote a field that holds the delimiter, a quote or a line break, and double the quotes inside it)", pe.Line, pe.Column, pe.Err)
	}
	return err
}

func blank(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
