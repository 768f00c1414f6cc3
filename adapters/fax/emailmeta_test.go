package fax

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestEmailHTMLMetaCharset: an HTML part whose Content-Type declares no
// charset says which it is in its own <meta> (HTML's "encoding sniffing":
// <meta charset> or <meta http-equiv=Content-Type content="...;
// charset=...">), as HTML mail editors write it. Its Key: value lines
// were read as windows-1252 whatever the <meta> said, so a patient's
// name in ISO-8859-15 (Š, Ž, Œ, where windows-1252 has ¦, ´, ¼) reached
// the Patient with other letters; the <meta> now gives the charset. One
// the Content-Type declares still comes first.
func TestEmailHTMLMetaCharset(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(pdfOf(t, "g4-fine-1p.tif"))
	body := "<div>Patient: \xa6imek, \xb4ofie<br>MRN: 4711</div></body></html>\r\n"
	for name, c := range map[string]struct{ ct, head, want string }{
		"meta charset":    {"text/html", `<html><head><meta charset="ISO-8859-15"><title>Fax</title></head><body>`, "Šimek, Žofie"},
		"meta http-equiv": {"text/html", `<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15"></head><body>`, "Šimek, Žofie"},
		"declared first":  {"text/html; charset=windows-1252", `<html><head><meta charset="ISO-8859-15"></head><body>`, "¦imek, ´ofie"},
	} {
		t.Run(name, func(t *testing.T) {
			msg := "Subject: Fax from 555-010-0142\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" +
				"--b1\r\nContent-Type: " + c.ct + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + c.head + body +
				"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n--b1--\r\n"
			e, err := readEmail(strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			var f faxfhir.Fax
			e.applyDoc(&f, 0, time.UTC)
			if f.PatientName != c.want || f.MRN != "4711" {
				t.Errorf("patient %q %q, want %q 4711", f.PatientName, f.MRN, c.want)
			}
		})
	}
}
