package fax

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestEmailBase64AsRFC2045Reads: base64 that RFC 2045 (6.8) has a
// decoder read was refused, and the e-mail with it, its fax never sent:
// "Any characters outside of the base64 alphabet are to be ignored in
// base64-encoded data", but only spaces and line breaks were, so a
// form feed or a stray byte a mail gateway left in a line (or in the
// service's logo, not the fax at all) failed the whole message
// ("illegal base64 data"); the last group written without its "="
// padding, as some fax services' mailers do, was "unexpected EOF"; and
// an attachment encoded in pieces, each padded, as some encoders write
// it, ended at the first piece's "=". Each is read as the bytes it
// encodes.
func TestEmailBase64AsRFC2045Reads(t *testing.T) {
	pdf := pdfOf(t, "g4-fine-1p.tif")
	if len(pdf)%3 == 0 {
		pdf = append(pdf, '\n')
	}
	b64 := base64.StdEncoding.EncodeToString(pdf)
	wrap := func(s string) string {
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		return out.String() + s + "\r\n"
	}
	for _, c := range []struct{ name, logo, fax string }{
		{"missing padding", "iVBORw0KGgo=", wrap(strings.TrimRight(b64, "="))},
		{"characters outside the alphabet", "iVBORw0KGgo=", wrap(b64[:40] + "\f" + b64[40:100] + "\xa0" + b64[100:])},
		{"in the logo", "iVBO!!Rw0K\x00Ggo=", wrap(b64)},
		{"padded pieces", "iVBORw0KGgo=", wrap(base64.StdEncoding.EncodeToString(pdf[:100])) + wrap(base64.StdEncoding.EncodeToString(pdf[100:]))},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "fax.eml")
		msg := "Subject: New fax from 555-010-0142\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
			"--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n" + c.logo + "\r\n" +
			"--b1\r\nContent-Type: application/pdf; name=fax.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + c.fax + "--b1--\r\n"
		if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		in := adapters.Raw{Name: path, Size: int64(len(msg)), Meta: map[string]string{folder.MetaFile: path},
			Open: func() (io.ReadCloser, error) { return os.Open(path) }}
		ins, err := Emailed(in, time.UTC)
		switch {
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case len(ins) != 1:
			t.Errorf("%s: %d faxes, want 1", c.name, len(ins))
		case !bytes.Equal(ins[0].Body, pdf):
			t.Errorf("%s: a fax of %d bytes, want the PDF's %d", c.name, len(ins[0].Body), len(pdf))
		}
	}
}
