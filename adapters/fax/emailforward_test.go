package fax

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestEmailForwardedInline: a fax e-mail forwarded inline (Gmail's
// "Forwarded message", Outlook's "Original Message") quotes the fax
// service's header in the forwarder's text, and its From: and To: lines,
// e-mail addresses, were read as the caller's and the called number: the
// fax line's number never matched, so the fax lost the line's document
// kind and security labels, and its caller was "Fax Service <noreply@…>".
// An address is no phone number: an RFC 3192 one (FAX=+1…/T33S=22@…)
// gives its number and subaddress, any other is passed over, so that the
// service's own To: and From: lines further on count.
func TestEmailForwardedInline(t *testing.T) {
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path, cfg.TimeZone = "fax", t.TempDir(), "UTC"
	cfg.Lines = []Line{{Called: "+1 555 010 0100", DocType: "lab", Security: []string{"R"}}}
	s, err := New(adapters.Settings{}, cfg, newCollector(t))
	if err != nil {
		t.Fatal(err)
	}
	pdf := part{contentType: "application/pdf", name: "fax.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"}
	for name, tc := range map[string]struct {
		text        string
		caller, sub string
	}{
		"gmail, T.37 address": {text: "Please file.\r\n\r\n---------- Forwarded message ---------\r\n" +
			"From: Fax Service <noreply@fax.example.com>\r\nDate: Tue, 24 Nov 2026 09:15:02 -0500\r\n" +
			"Subject: New fax from +1 555-010-0999 - 2 pages\r\nTo: <FAX=+15550100100/T33S=22@fax.example.org>\r\n\r\n" +
			"You have received a fax.\r\nPages: 2\r\n",
			caller: "+1 555-010-0999", sub: "22"},
		"outlook, service's lines": {text: "FYI\r\n\r\n-----Original Message-----\r\n" +
			"From: eFax <message@inbound.efax.example>\r\nSent: Tuesday, November 24, 2026 9:15 AM\r\n" +
			"To: Front Desk <frontdesk@clinic.example>\r\nSubject: New fax - 2 pages\r\n\r\n" +
			"From: 555-010-0999\r\nTo: +1 555 010 0100\r\nPages: 2\r\n",
			caller: "555-010-0999"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fw.eml")
			writeEmail(t, path, map[string]string{"From": "Front Desk <frontdesk@clinic.example>", "To": "charts@clinic.example",
				"Subject": "Fwd: New fax from +1 555-010-0999 - 2 pages", "Date": "Wed, 25 Nov 2026 08:00:00 -0500"},
				part{contentType: "text/plain; charset=utf-8", encoding: "7bit", body: []byte(tc.text)}, pdf)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ins, e, err := emailInputs(adapters.Raw{Name: "fw.eml", Body: b, Meta: map[string]string{folder.MetaFile: "fw.eml"}})
			if err != nil {
				t.Fatal(err)
			}
			f, err := s.describe(ins[0], func(f *faxfhir.Fax) { e.applyDoc(f, 0, time.UTC) }, len(ins) == 1)
			if err != nil {
				t.Fatal(err)
			}
			if f.DocType != "lab" || !slices.Equal(f.Security, []string{"R"}) || f.SubAddress != tc.sub {
				t.Errorf("called %q, subaddress %q: kind %q, labels %v; want the lab line's (lab, [R])", f.CalledNumber, f.SubAddress, f.DocType, f.Security)
			}
			if f.CallerNumber != tc.caller || f.Pages != 2 {
				t.Errorf("caller %q, pages %d; want %q, 2", f.CallerNumber, f.Pages, tc.caller)
			}
		})
	}
}
