package fax

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestEmailTextCharset: a fax e-mail's text in the charset its part
// declares (ISO-8859-1 or windows-1252 from Windows fax servers and
// older services, quoted-printable or base64) gave its Key: value lines
// undecoded, so the patient's name reached the Patient with its letters
// as U+FFFD ("M\ufffdller"); the lines are now read in the declared
// charset, and undeclared text that is not UTF-8 as Windows-1252, as a
// JSON sidecar is. An encoded-word subject in windows-1252 is decoded too.
func TestEmailTextCharset(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(pdfOf(t, "g4-fine-1p.tif"))
	for name, text := range map[string]string{
		"iso-8859-1 qp":      "Content-Type: text/plain; charset=\"ISO-8859-1\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nPatient Name: M=FCller, J=FCrgen\r\nMRN: 4711\r\n",
		"windows-1252 b64":   "Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte("Patient Name: M\xfcller, J\xfcrgen\r\nMRN: 4711\r\n")) + "\r\n",
		"undeclared 8bit":    "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nPatient Name: M\xfcller, J\xfcrgen\r\nMRN: 4711\r\n",
		"utf-8 qp (as ever)": "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nPatient Name: M=C3=BCller, J=C3=BCrgen\r\nMRN: 4711\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			msg := "Subject: =?windows-1252?Q?Fax_from_555-010-0142_=96_2_pages?=\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" +
				"--b1\r\n" + text +
				"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n--b1--\r\n"
			e, err := readEmail(strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			var f faxfhir.Fax
			e.applyDoc(&f, 0, time.UTC)
			if f.PatientName != "Müller, Jürgen" || f.MRN != "4711" {
				t.Errorf("patient %q %q, want Müller, Jürgen 4711", f.PatientName, f.MRN)
			}
			if f.CallerNumber != "555-010-0142" || f.Pages != 2 || e.subject != "Fax from 555-010-0142 – 2 pages" {
				t.Errorf("subject %q: caller %q, pages %d", e.subject, f.CallerNumber, f.Pages)
			}
		})
	}
}
