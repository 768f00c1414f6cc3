package fax

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestEmailForwardedSeveralAsAttachments: several fax e-mails forwarded
// as attachments in one message (Gmail's or Thunderbird's "Forward as
// attachment" of a selection) are several calls: each forwarded message's
// header and text say what its own fax was. Every fax took the first
// one's instead (its text's patient and MRN, its caller, date and
// Message-ID), so the second patient's fax reached the exchange filed
// under the first patient.
func TestEmailForwardedSeveralAsAttachments(t *testing.T) {
	dir := t.TempDir()
	fax := func(name, date, id, text, tif string) []byte {
		path := filepath.Join(dir, name)
		writeEmail(t, path, map[string]string{"To": "FAX=+15550199@fax.example.org", "Subject": "New fax", "Date": date, "Message-ID": id},
			part{contentType: "text/plain", encoding: "7bit", body: []byte(text)},
			part{contentType: "application/pdf", name: "fax.pdf", body: pdfOf(t, tif), encoding: "base64"})
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := fax("1.eml", "Tue, 24 Nov 2026 09:15:02 -0500", "<one@fax.example.com>",
		"Caller ID: 555-0100\r\nPatient: Doe, Jane\r\nMRN: 1001\r\n", "g4-fine-1p.tif")
	second := fax("2.eml", "Tue, 24 Nov 2026 11:40:00 -0500", "<two@fax.example.com>",
		"Caller ID: 555-0200\r\nPatient: Roe, Richard\r\nMRN: 2002\r\n", "g3-1d-normal-3p.tif")
	outer := filepath.Join(dir, "fw.eml")
	writeEmail(t, outer, map[string]string{"To": "faxes@clinic.example", "Subject": "Fwd: faxes for the charts",
		"Date": "Wed, 25 Nov 2026 08:00:00 -0500", "Message-ID": "<fw.1@clinic.example>"},
		part{contentType: "text/plain", encoding: "7bit", body: []byte("These two came to the front desk.\r\n")},
		part{contentType: "message/rfc822", name: "New fax.eml", body: first, encoding: "7bit"},
		part{contentType: "message/rfc822", name: "New fax.eml", body: second, encoding: "7bit"})
	b, err := os.ReadFile(outer)
	if err != nil {
		t.Fatal(err)
	}

	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path, cfg.TimeZone = "fax", t.TempDir(), "UTC"
	s, err := New(adapters.Settings{}, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Feed(context.Background(), adapters.Raw{Name: "fw.eml", Body: b, Received: time.Now(), Meta: map[string]string{folder.MetaFile: "fw.eml"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []faxfhir.Fax{
		{CallerNumber: "555-0100", PatientName: "Doe, Jane", MRN: "1001", CommID: "one@fax.example.com", Received: time.Date(2026, 11, 24, 14, 15, 2, 0, time.UTC)},
		{CallerNumber: "555-0200", PatientName: "Roe, Richard", MRN: "2002", CommID: "two@fax.example.com", Received: time.Date(2026, 11, 24, 16, 40, 0, 0, time.UTC)},
	} {
		var g got
		select {
		case g = <-c.got:
		default:
			t.Fatal("a fax was not handed on")
		}
		f := faxfhir.FaxFromMeta(g.raw.Meta)
		if f.CallerNumber != want.CallerNumber || f.PatientName != want.PatientName || f.MRN != want.MRN || f.CommID != want.CommID ||
			!f.Received.Equal(want.Received) || f.CalledNumber != "+15550199" {
			t.Errorf("%s: caller %q, patient %q %q, comm id %q, received %v, called %q; want %+v",
				g.raw.Name, f.CallerNumber, f.PatientName, f.MRN, f.CommID, f.Received, f.CalledNumber, want)
		}
	}
}
