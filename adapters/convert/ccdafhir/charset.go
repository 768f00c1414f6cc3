package ccdafhir

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// charsetReader lets the decoder read the single-byte encodings EHR exports
// still declare; UTF-8 needs no reader, and neither does UTF-16, which
// xmlText has already made UTF-8.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii", "utf-16", "utf-16le", "utf-16be":
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

// xmlText is the document as the decoder reads it: a UTF-16 document
// (its byte-order mark says so; Notepad's "Unicode", PowerShell's
// Out-File) as UTF-8, which Go's decoder reads, since XML 1.0 §4.3.3 has
// every XML processor read both; any other as it is.
func xmlText(raw []byte) ([]byte, error) {
	var order unicode.Endianness
	switch {
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE}):
		order = unicode.LittleEndian
	case bytes.HasPrefix(raw, []byte{0xFE, 0xFF}):
		order = unicode.BigEndian
	default:
		return raw, nil
	}
	if len(raw)%2 != 0 {
		return nil, fmt.Errorf("UTF-16 (byte-order mark) with an odd number of bytes")
	}
	return unicode.UTF16(order, unicode.ExpectBOM).NewDecoder().Bytes(raw)
}
