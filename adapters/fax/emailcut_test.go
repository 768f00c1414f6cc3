package fax

import (
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
)

// TestEmailCutShortSaysSo: a fax e-mail cut short (saved or received
// incomplete: it ends inside an attachment, or before the boundary that
// closes its parts, RFC 2046 5.1.1) went to failed/ as "e-mail part
// application/pdf: unexpected EOF", which says nothing a contractor can
// act on, and one cut in the header of a part (just after a boundary)
// was read as if that boundary had closed it, the faxes after it lost
// and the message moved to done/; it says the message is cut short. A multipart inside the
// message whose own closing boundary is missing, the message whole
// around it (as some fax services' mailers write their text and HTML),
// ends where its part does, as mail programs read it, and its fax and
// text lines are read; it was refused the same way.
func TestEmailCutShortSaysSo(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(pdfOf(t, "g4-fine-1p.tif"))
	head := "Subject: 2 faxes from 555-010-0142\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
	fax := "--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n"
	emailed := func(msg string) ([]adapters.Raw, error) {
		path := filepath.Join(t.TempDir(), "fax.eml")
		if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		return Emailed(adapters.Raw{Name: path, Size: int64(len(msg)), Meta: map[string]string{folder.MetaFile: path},
			Open: func() (io.ReadCloser, error) { return os.Open(path) }}, time.UTC)
	}
	for name, msg := range map[string]string{
		"inside its second fax":       head + fax + fax[:len(fax)/2],
		"before its closing boundary": head + fax + fax,
		"after a boundary":            head + fax + "--b1\r\n",
		"in a part's header":          head + fax + "--b1\r\nContent-Type: appl",
	} {
		_, err := emailed(msg)
		if err == nil || !queue.IsPermanent(err) || !strings.Contains(err.Error(), "cut short") || !strings.Contains(err.Error(), "fax.eml") {
			t.Errorf("cut %s: %v; want a permanent error naming the file and saying the message is cut short", name, err)
		}
	}
	alt := "--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n" +
		"--b2\r\nContent-Type: text/plain\r\n\r\nCaller ID: 555-0100\r\n" +
		"--b2\r\nContent-Type: text/html\r\n\r\n<p>Caller ID: 555-0100</p>\r\n"
	ins, err := emailed(head + alt + fax + "--b1--\r\n")
	if err != nil || len(ins) != 1 {
		t.Fatalf("an inner multipart without its closing boundary: %d faxes, %v; want its fax", len(ins), err)
	}
	if f := faxfhir.FaxFromMeta(ins[0].Meta); f.CallerNumber != "555-0100" {
		t.Errorf("an inner multipart without its closing boundary: caller %q, want its text's 555-0100", f.CallerNumber)
	}
}
