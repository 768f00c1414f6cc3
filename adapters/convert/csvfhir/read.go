package csvfhir

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// Decode returns the file's text as UTF-8, and the name of the encoding
// it was read in. enc is Mapping.Encoding: empty lets the bytes decide
// (a byte-order mark for UTF-8 or UTF-16; else UTF-8 when valid, and
// Windows-1252 when not, the "ANSI" of Windows programs, whose every
// byte means a character, so no file is refused for its encoding).
func Decode(b []byte, enc string) (string, string, error) {
	enc = strings.ToLower(enc)
	switch {
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

// readTable reads the header and the rows. A row with fewer or more
// fields than the header is a row error; a quote out of place ends the
// read, since what follows it cannot be told apart reliably.
func readTable(text string, delim rune) (header []string, rows []record, rowErrs []RowError, err error) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = delim
	r.FieldsPerRecord = -1
	for {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, nil, fmt.Errorf("line %d, field %d: %v (quote a field that holds the delimiter, a quote or a line break, and double the quotes inside it)", pe.Line, pe.Column, pe.Err)
			}
			return nil, nil, nil, err
		}
		line, _ := r.FieldPos(0)
		if header == nil {
			header = make([]string, len(fields))
			for i, f := range fields {
				header[i] = strings.TrimSpace(strings.TrimPrefix(f, "\uFEFF"))
			}
			continue
		}
		if blank(fields) {
			continue
		}
		if len(fields) != len(header) {
			rowErrs = append(rowErrs, RowError{Line: line, Msg: fmt.Sprintf("%d fields, but the header has %d", len(fields), len(header))})
			continue
		}
		rows = append(rows, record{line: line, fields: fields})
	}
	if header == nil {
		return nil, nil, nil, errors.New("the file is empty: not even a header line")
	}
	return header, rows, rowErrs, nil
}

func blank(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
