package config

import (
	"encoding/binary"
	"errors"
	"testing"
	"unicode/utf16"

	"github.com/ferry-health/ferry/config/configtext"
)

// TestNotepadEncodingsGiveTheSameProblems: a configuration saved by
// Notepad or PowerShell 5 (UTF-16 with its byte-order mark, or UTF-8
// behind one) is read, since yaml.v3 decodes it, but the lines the
// problems name were looked for in the bytes as saved: a tab was not said
// to be one (only yaml.v3's "found character that cannot start any
// token", with no line when on line 1) and an indentation error was put
// on a line the file does not have. The file is read as the UTF-8 text
// it holds, so each problem is the one a UTF-8 file gets.
func TestNotepadEncodingsGiveTheSameProblems(t *testing.T) {
	utf16LE := func(s string) []byte {
		b := []byte{0xFF, 0xFE}
		for _, u := range utf16.Encode([]rune(s)) {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
		return b
	}
	utf16BE := func(s string) []byte {
		b := []byte{0xFE, 0xFF}
		for _, u := range utf16.Encode([]rune(s)) {
			b = binary.BigEndian.AppendUint16(b, u)
		}
		return b
	}
	utf8BOM := func(s string) []byte { return append([]byte{0xEF, 0xBB, 0xBF}, s...) }
	for _, file := range []string{
		"\tdata_dir: /tmp/x\n",
		"data_dir: /tmp/x\r\nlog:\r\n\tlevel: info\r\n",
		"data_dir: /tmp/x\nsources:\n  mllp:\n    - listen: 127.0.0.1:2575\n   name: a\n",
		"data_dir: /tmp/x\nlog:\n  level: info\n    phi: true\n",
		"log:\n  level: info\ndata_dir: \"D:\\data\"\n",
	} {
		_, err := Parse("ferry.yaml", []byte(file))
		var want *Error
		if !errors.As(err, &want) || len(want.Problems) != 1 || want.Problems[0].Line == 0 {
			t.Fatalf("%q: as UTF-8: %v", file, err)
		}
		for enc, b := range map[string][]byte{"UTF-16LE": utf16LE(file), "UTF-16BE": utf16BE(file), "UTF-8 with BOM": utf8BOM(file)} {
			_, err := Parse("ferry.yaml", b)
			var got *Error
			if !errors.As(err, &got) || len(got.Problems) != 1 || got.Problems[0] != want.Problems[0] {
				t.Errorf("%q as %s:\n%v\nwant:\n%v", file, enc, err, want)
			}
		}
	}
	// A UTF-16 file cut in the middle of a character says what it is.
	_, err := Parse("ferry.yaml", append(utf16LE("data_dir: /tmp/x\n"), 'a'))
	if err == nil || !errors.Is(err, configtext.ErrUTF16) {
		t.Errorf("odd UTF-16: %v", err)
	}
}
