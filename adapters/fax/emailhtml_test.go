package fax

import (
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestHTMLOnlyFaxEmail: a fax service that sends its message as HTML
// only (no text/plain part) lays out what it knows of the call in a table
// or in lines broken by <br>: the caller, the number dialled, the pages
// and the patient are read from it as from a text part, its markup,
// entities and style sheet left out.
func TestHTMLOnlyFaxEmail(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	s := start(t, cfg, c)

	html := `<!DOCTYPE html><html><head><title>New fax</title><style>td { font-weight: bold } /* Pages: 9 */</style></head>
<body><p>You have received a fax.</p>
<table><tr><td><b>Caller&nbsp;ID:</b></td><td>555-0100</td></tr>
<tr><td>To&#58;</td>
<td>+1 555 0199</td></tr>
<tr><td>Pages:</td><td>3</td></tr></table>
<div>Patient: Jane Q Doe<br>MRN: A12345<br/>DOB: 1970-01-02</div></body></html>`
	writeEmail(t, filepath.Join(dir, "fax-html.eml"), map[string]string{
		"From": `"Fax Service" <noreply@fax.example.com>`, "Subject": "New fax",
		"Date": "Tue, 24 Nov 2026 09:15:02 -0500",
	},
		part{contentType: "text/html; charset=utf-8", encoding: "quoted-printable", body: []byte(html)},
		part{contentType: "application/pdf", name: "fax.pdf", body: pdfOf(t, "g3-1d-normal-3p.tif"), encoding: "base64"},
	)
	g := c.next(t, s)
	f := faxfhir.FaxFromMeta(g.raw.Meta)
	if f.CallerNumber != "555-0100" || f.CalledNumber != "+1 555 0199" || f.Pages != 3 ||
		f.PatientName != "Jane Q Doe" || f.MRN != "A12345" || f.DOB != "1970-01-02" {
		t.Errorf("fax from an HTML-only e-mail: %+v", f)
	}
}
