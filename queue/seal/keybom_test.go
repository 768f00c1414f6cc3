package seal

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"
)

// TestLoadKeyWindowsEncodings: a key file put back on Windows from its
// copy (a password manager's text pasted into Notepad, or PowerShell 5's
// `"<key>" > ferry.key` or Set-Content -Encoding UTF8) starts with a
// byte-order mark, and PowerShell's > writes UTF-16. Such a file was
// "not base64", though it shows exactly the key in Notepad, and the
// gateway would not start with the key that opens its queue. It is now
// read as Windows saved it.
func TestLoadKeyWindowsEncodings(t *testing.T) {
	raw := make([]byte, KeySize)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	want, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	text := base64.StdEncoding.EncodeToString(raw) + "\r\n"
	le, be := []byte{0xff, 0xfe}, []byte{0xfe, 0xff}
	for _, u := range utf16.Encode([]rune(text)) {
		le = append(le, byte(u), byte(u>>8))
		be = append(be, byte(u>>8), byte(u))
	}
	for name, data := range map[string][]byte{
		"utf-8 with bom": []byte("\xef\xbb\xbf" + text),
		"utf-16le":       le,
		"utf-16be":       be,
	} {
		path := filepath.Join(t.TempDir(), "ferry.key")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := LoadKey(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if k.ID() != want.ID() {
			t.Errorf("%s: key %s, want %s", name, k.ID(), want.ID())
		}
	}
}
