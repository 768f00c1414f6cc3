// Package configtext reads a small text file the way Windows may have
// saved it: Notepad and PowerShell write a UTF-8 byte-order mark (Notepad
// before 2019, PowerShell 5's Set-Content -Encoding UTF8) or UTF-16 with
// its mark (PowerShell 5's > and Out-File, Notepad's "Unicode"). Key,
// password and sidecar files and C-CDA documents are read through it.
package configtext

import (
	"bytes"
	"errors"

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
