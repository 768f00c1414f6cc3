package configtext

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestUTF8(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"plain", []byte("s3cret\r\n"), "s3cret\r\n"},
		{"UTF-8 mark", []byte("\xef\xbb\xbfs3cret"), "s3cret"},
		{"UTF-16LE", []byte("\xff\xfes\x00\xe9\x00\r\x00\n\x00"), "sé\r\n"},
		{"UTF-16BE", []byte("\xfe\xff\x00s\x00\xe9"), "sé"},
	} {
		got, err := UTF8(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := UTF8([]byte("\xff\xfes\x00e")); !errors.Is(err, ErrUTF16) {
		t.Errorf("odd UTF-16: %v, want ErrUTF16", err)
	}
}

func TestCharsetReader(t *testing.T) {
	r, err := CharsetReader(" Windows-1252 ", bytes.NewReader([]byte("Pe\xf1a \x93x\x94")))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if string(got) != "Peña “x”" {
		t.Errorf("windows-1252 read as %q", got)
	}
	if _, err := CharsetReader("utf-16", bytes.NewReader(nil)); err != nil {
		t.Errorf("utf-16 (decoded already by UTF8): %v", err)
	}
	if _, err := CharsetReader("ebcdic", bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), `"ebcdic"`) {
		t.Errorf("an unknown charset: %v, want an error naming it", err)
	}
}
