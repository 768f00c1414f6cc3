// Package configtext reads a small text file the way Windows may have
// saved it: Notepad and PowerShell write a UTF-8 byte-order mark (Notepad
// before 2019, PowerShell 5's Set-Content -Encoding UTF8) or UTF-16 with
// its mark (PowerShell 5's > and Out-File, Notepad's "Unicode"). Key,
// password and sidecar files and C-CDA documents are read through it.
package configtext

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// ErrUTF16 is returned for text whose UTF-16 byte-order mark is followed
// by what does not decode as UTF-16 (an odd number of bytes).
var ErrUTF16 = errors.New("UTF-16 text (by its byte-order mark) that does not decode")

// UTF8 returns b as UTF-8 without a byte-order mark: UTF-16 with its mark
// decoded, a UTF-8 mark dropped, any other text as it is.
func UTF8(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte{0xFF, 0xFE}) && !bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		return bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF}), nil
	}
	if len(b)%2 != 0 {
		return nil, ErrUTF16
	}
	// ExpectBOM: the mark decides the byte order.
	out, err := unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder().Bytes(b)
	if err != nil {
		return nil, ErrUTF16
	}
	return out, nil
}

// CharsetReader is an encoding/xml (and mime.WordDecoder) CharsetReader
// for the encodings Windows software declares on the XML it writes:
// UTF-8 and ASCII as they are, UTF-16 too (UTF8 has already decoded it
// by its byte-order mark, and .NET declares utf-16 on a string it then
// saves as UTF-8), and the single-byte ISO-8859-1, windows-1252 and
// ISO-8859-15. Any other label is an error naming it.
func CharsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii", "utf-16", "utf16", "utf-16le", "utf-16be", "unicode":
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		return charmap.ISO8859_1.NewDecoder().Reader(in), nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder().Reader(in), nil
	case "iso-8859-15", "latin9":
		return charmap.ISO8859_15.NewDecoder().Reader(in), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}
