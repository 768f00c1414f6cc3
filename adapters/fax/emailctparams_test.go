package fax

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestEmailTextPartOddParameters: a text part whose Content-Type has a
// parameter mime.ParseMediaType refuses was taken for an attachment of
// no known kind and its Key: value lines left unread, so the fax went
// without its caller and patient: a comment, which RFC 2045 (5.1) allows
// and gives as its own example ("text/plain; charset=us-ascii (Plain
// text)"), a file name unquoted with a space or a letter beyond ASCII, an
// empty parameter (";;"). The part is read as the text it is, in the
// charset it declares; a forwarded message (message/rfc822) so named was
// skipped the same way, and its fax not found.
func TestEmailTextPartOddParameters(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(pdfOf(t, "g4-fine-1p.tif"))
	for _, ct := range []string{
		"text/plain; charset=iso-8859-1 (Latin 1)",
		"text/plain; charset=ISO-8859-1; name=Fax details.txt",
		"text/plain; charset=\"iso-8859-1\"; name=Müller.txt",
		"text/html;; charset=iso-8859-1",
	} {
		text := "Caller ID: 555-0100\r\nPatient Name: M\xfcller, J\xfcrgen\r\nMRN: 4711\r\n"
		if strings.HasPrefix(ct, "text/html") {
			text = strings.ReplaceAll(text, "\r\n", "<br>\r\n")
		}
		msg := "Subject: New fax\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
			"--b1\r\nContent-Type: " + ct + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text +
			"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n--b1--\r\n"
		e, err := readEmail(strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		var f faxfhir.Fax
		e.applyDoc(&f, 0, time.UTC)
		if f.CallerNumber != "555-0100" || f.PatientName != "Müller, Jürgen" || f.MRN != "4711" || e.skipped != 0 {
			t.Errorf("Content-Type: %s: caller %q, patient %q %q, %d parts skipped; want 555-0100, Müller, Jürgen 4711, none",
				ct, f.CallerNumber, f.PatientName, f.MRN, e.skipped)
		}
	}
	inner := "Subject: New fax\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n"
	msg := "Subject: FW: New fax\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: message/rfc822; name=New fax.eml\r\n\r\n" + inner + "--b1--\r\n"
	if e, err := readEmail(strings.NewReader(msg)); err != nil || len(e.docs) != 1 {
		t.Errorf("message/rfc822; name=New fax.eml: %v, want its fax", err)
	}
}
