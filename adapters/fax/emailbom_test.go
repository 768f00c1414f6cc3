package fax

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestEmailSavedWithByteOrderMark: an e-mail saved as .eml by a Windows
// script (PowerShell 5's Set-Content -Encoding UTF8 or Out-File, a
// mailbox export written as text) begins with a byte-order mark, UTF-8's
// or UTF-16's, as sidecars and password files saved there do. The UTF-8
// mark was read as part of the first header's name, so that header was
// lost: its Content-Type, and the fax with it ("no PDF or TIFF
// attachment"), or its Subject and the caller's number there; a UTF-16
// file was no e-mail at all. The mark is read as such and the message
// as the text it marks.
func TestEmailSavedWithByteOrderMark(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	s := start(t, cfg, c)
	pdf := base64.StdEncoding.EncodeToString(pdfOf(t, "g4-fine-1p.tif"))
	msg := "Content-Type: multipart/mixed; boundary=b1\r\nSubject: Fax from 555-010-0142\r\nMIME-Version: 1.0\r\n\r\n" +
		"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n--b1--\r\n"
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(msg)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"utf8.eml": "\xef\xbb\xbf" + msg, "utf16.eml": utf16} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		waitSettled(t, s, name, true)
	}
	for range 2 {
		select {
		case g := <-c.got:
			if f := faxfhir.FaxFromMeta(g.raw.Meta); f.CallerNumber != "555-010-0142" {
				t.Errorf("%s: caller %q, want the subject's 555-010-0142", g.raw.Name, f.CallerNumber)
			}
		default:
			t.Error("a fax e-mail saved with a byte-order mark gave no fax")
		}
	}
}
