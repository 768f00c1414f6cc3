package fax

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"
)

// TestPasswordFileWindowsEncodings: a password_file or client_secret_file
// written on Windows holds more than the password's bytes: Notepad before
// 2019 and PowerShell 5's Set-Content -Encoding UTF8 put a UTF-8
// byte-order mark before it, and PowerShell 5's `"secret" > file` and
// Out-File write UTF-16 with its mark. The mark (and every other byte of
// UTF-16) went to the mail server as part of the password, which it
// refused as a wrong one, while the file showed the right password in
// Notepad; the text is now read as Windows saved it.
func TestPasswordFileWindowsEncodings(t *testing.T) {
	utf16LE := func(s string) []byte {
		b := []byte{0xff, 0xfe}
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return b
	}
	utf16BE := func(s string) []byte {
		b := []byte{0xfe, 0xff}
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u>>8), byte(u))
		}
		return b
	}
	const pw = "Gr€en-Fax.2026"
	for name, data := range map[string][]byte{
		"plain":          []byte(pw + "\n"),
		"crlf":           []byte(pw + "\r\n"),
		"utf-8 with bom": []byte("\xef\xbb\xbf" + pw + "\r\n"),
		"utf-16le":       utf16LE(pw + "\r\n"),
		"utf-16be":       utf16BE(pw + "\r\n"),
	} {
		path := filepath.Join(t.TempDir(), "imap.pw")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readPassword(path)
		if err != nil || got != pw {
			t.Errorf("%s: readPassword = %q, %v; want %q", name, got, err, pw)
		}
	}
	path := filepath.Join(t.TempDir(), "imap.pw")
	if err := os.WriteFile(path, utf16LE("\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readPassword(path); err == nil {
		t.Errorf("readPassword of an empty UTF-16 file: no error")
	}
}
