package fax

import (
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestMailboxDeclaredFaxThatIsNone: an attachment the message declares a
// fax (application/pdf, image/tiff, or a file named .pdf or .tif) whose
// bytes are no PDF or TIFF (an empty fax.pdf a fax service sent when its
// rendering failed, a PDF behind a byte-order mark, an error page saved
// under the fax's name) was skipped as a logo is, so the message went to
// the done mailbox with its other fax, that page of the clinic's faxes
// sent nowhere and nobody told, and a message with it alone failed as
// one with "no PDF or TIFF attachment". It is handed on as the fax it
// says it is: the converter refuses it, and the message goes to the
// failed mailbox saying why, its other faxes sent all the same.
func TestMailboxDeclaredFaxThatIsNone(t *testing.T) {
	good := pdfOf(t, "g4-fine-1p.tif")
	for _, bad := range []part{
		{contentType: "application/pdf", name: "fax-2.pdf", encoding: "base64"},
		{contentType: "application/octet-stream", name: "fax-2.PDF", body: append([]byte("\xef\xbb\xbf"), good...), encoding: "base64"},
		{contentType: "image/tiff", encoding: "base64", body: []byte("<html><body>The fax could not be rendered.</body></html>")},
	} {
		site := startIMAP(t)
		c := newCollector(t)
		mb, err := NewMailbox(adapters.Settings{}, MailboxConfig{Name: "efax", Address: site.addr, Username: "fax", PasswordFile: site.passFile}, site.clientTLS, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		writeEmail(t, filepath.Join(site.dir, "two.eml"), map[string]string{"Subject": "2 faxes from 555-010-0142"},
			part{contentType: "image/png", name: "logo.png", body: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), encoding: "base64"},
			part{contentType: "application/pdf", name: "fax-1.pdf", body: good, encoding: "base64"},
			bad)
		site.deliver(t, filepath.Join(site.dir, "two.eml"))
		if err := mb.Poll(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(c.got) != 1 {
			t.Errorf("%s %s: %d faxes handed on, want the good one", bad.contentType, bad.name, len(c.got))
		}
		done, _ := site.count(t, DefaultDoneMailbox)
		failed, _ := site.count(t, DefaultFailedMailbox)
		if done != 0 || failed != 2 {
			t.Errorf("%s %s: %d in the done mailbox, %d in the failed one; want the message and its note in the failed one",
				bad.contentType, bad.name, done, failed)
		}
	}
}
