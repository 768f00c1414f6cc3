package fax

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// part is one MIME part of a test e-mail.
type part struct {
	contentType, name string
	body              []byte
	encoding          string // base64 (attachments) or quoted-printable
}

// writeEmail writes an RFC 5322 message with a multipart/mixed body, as
// Go's mime/multipart encodes it; base64 lines are wrapped at 76.
func writeEmail(t *testing.T, path string, headers map[string]string, parts ...part) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", p.contentType)
		if p.name != "" {
			h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", p.name))
		}
		h.Set("Content-Transfer-Encoding", p.encoding)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		switch p.encoding {
		case "base64":
			enc := base64.StdEncoding.EncodeToString(p.body)
			for len(enc) > 76 {
				fmt.Fprintf(w, "%s\r\n", enc[:76])
				enc = enc[76:]
			}
			fmt.Fprintf(w, "%s\r\n", enc)
		default:
			w.Write(p.body)
		}
	}
	mw.Close()
	var msg bytes.Buffer
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-ID"} {
		if v, ok := headers[k]; ok {
			fmt.Fprintf(&msg, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&msg, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n", mw.Boundary())
	msg.Write(body.Bytes())
	if err := os.WriteFile(path, msg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestEmailedFax: an e-mail saved into a plain fax inbox (.eml) gives one
// fax per PDF or TIFF attachment, skipping the service's logo. What the
// call was comes from the message: its text's "Key: value" lines (caller
// id, pages), the RFC 3192 address it was sent to (number dialled and
// subaddress), its Date and Message-ID; the subject's number is only a
// fallback. The images reach the converter as themselves, so the same fax
// saved as a PDF would be the same document.
func TestEmailedFax(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	s := start(t, cfg, c)

	pdf := pdfOf(t, "g3-1d-normal-3p.tif")
	tif, err := os.ReadFile(filepath.Join(faxDir, "g4-fine-1p.tif"))
	if err != nil {
		t.Fatal(err)
	}
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	writeEmail(t, filepath.Join(dir, "fax-0001.eml"), map[string]string{
		"From":       `"Fax Service" <noreply@fax.example.com>`,
		"To":         "FAX=+15550199/T33S=12@fax.example.org",
		"Subject":    "=?UTF-8?Q?New_fax_from_+1_(555)_010-0999_=E2=80=93_4_pages?=",
		"Date":       "Tue, 24 Nov 2026 09:15:02 -0500",
		"Message-ID": "<20261124141502.7711@fax.example.com>",
	},
		part{contentType: "text/plain; charset=utf-8", encoding: "quoted-printable",
			body: []byte("You have received a fax.\r\nCaller ID: 555-0100\r\nPages: 3\r\nReceived: see the header\r\n")},
		part{contentType: "image/png", name: "logo.png", body: png, encoding: "base64"},
		part{contentType: "application/pdf", name: "fax.pdf", body: pdf, encoding: "base64"},
		part{contentType: "application/octet-stream", name: "FAX.TIF", body: tif, encoding: "base64"},
	)
	first, second := c.next(t, s), c.next(t, s)
	for i, g := range []got{first, second} {
		f := faxfhir.FaxFromMeta(g.raw.Meta)
		if f.CallerNumber != "555-0100" || f.Pages != 3 || f.CalledNumber != "+15550199" || f.SubAddress != "12" ||
			f.CommID != "20261124141502.7711@fax.example.com" || !f.Received.Equal(time.Date(2026, 11, 24, 14, 15, 2, 0, time.UTC)) {
			t.Errorf("attachment %d: fax %+v", i+1, f)
		}
		if want := fmt.Sprintf("fax-0001.eml (attachment %d of 2)", i+1); !strings.HasSuffix(g.raw.Name, want) {
			t.Errorf("name %q, want … %q", g.raw.Name, want)
		}
	}
	if ct := str(docRef(first.bundle), "content", 0, "attachment", "contentType"); ct != "application/pdf" {
		t.Errorf("first attachment: %s", ct)
	}
	if h := str(docRef(first.bundle), "content", 0, "attachment", "hash"); h != sha1B64(pdf) {
		t.Errorf("the PDF is not delivered as itself: hash %s", h)
	}
	if n := len(get(second.bundle, "entry").([]any)); n < 5 {
		t.Errorf("the TIFF gives a PDF rendition and its original: %d entries", n)
	}
	waitSettled(t, s, "fax-0001.eml", true)
}

// TestEmailedFaxSubjectOnly: with no text lines and no T.37 address, the
// caller's number and the page count come from the subject.
func TestEmailedFaxSubjectOnly(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	s := start(t, cfg, c)
	writeEmail(t, filepath.Join(dir, "Fax.EML"), map[string]string{
		"To": "frontdesk@clinic.example", "Subject": "Fax from 555-010-0142 (2 pgs)", "Date": "Wed, 25 Nov 2026 16:00:00 +0000",
	}, part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
	f := faxfhir.FaxFromMeta(c.next(t, s).raw.Meta)
	if f.CallerNumber != "555-010-0142" || f.Pages != 2 || f.CalledNumber != "" || !f.Received.Equal(time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("fax %+v", f)
	}
}

// TestEmailedFaxWithoutImage: an e-mail with no PDF or TIFF (a notice, a
// fax service's "fax failed" mail) goes to failed/ with a reason naming
// the file; nothing is handed on.
func TestEmailedFaxWithoutImage(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	s := start(t, cfg, c)
	writeEmail(t, filepath.Join(dir, "notice.eml"), map[string]string{"Subject": "Fax delivery failed"},
		part{contentType: "text/plain", encoding: "7bit", body: []byte("The fax from 555-0100 could not be received.\r\n")},
		part{contentType: "image/gif", name: "x.gif", body: []byte("GIF89a"), encoding: "base64"})
	waitSettled(t, s, "notice.eml", false)
	reason, err := os.ReadFile(filepath.Join(s.Engine().Paths().Failed, "notice.eml.error.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reason), "notice.eml: no PDF or TIFF attachment (1 other attachments)") {
		t.Errorf("reason %q", reason)
	}
	select {
	case g := <-c.got:
		t.Fatalf("handed on %q", g.raw.Name)
	default:
	}
}

// waitSettled waits for name to reach done/ (ok) or failed/.
func waitSettled(t *testing.T, s *Source, name string, ok bool) {
	t.Helper()
	p := s.Engine().Paths()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found bool
		if ok {
			m, _ := filepath.Glob(filepath.Join(p.Done, "*", name))
			found = len(m) == 1
		} else {
			_, err := os.Stat(filepath.Join(p.Failed, name))
			found = err == nil
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not in %s", name, map[bool]string{true: "done/", false: "failed/"}[ok])
		}
		s.Engine().Rescan()
		time.Sleep(20 * time.Millisecond)
	}
}

func sha1B64(b []byte) string {
	sum := sha1.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// FuzzReadEmail: any bytes are read without a panic, and what is read
// applies to a fax without one.
func FuzzReadEmail(f *testing.F) {
	f.Add([]byte("Subject: Fax from 555-0100 (2 pages)\r\nTo: FAX=+1555/T33S=1@x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPages: 3\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n--a--\r\n"))
	f.Add([]byte("Date: Tue, 24 Nov 2026 09:15:02 -0500\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaller ID: 5=\r\n55\r\n"))
	f.Add([]byte("Subject: FW\r\nContent-Type: message/rfc822\r\n\r\nSubject: Fax\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := readEmail(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := range e.docs {
			var fx faxfhir.Fax
			e.applyDoc(&fx, i, time.UTC)
		}
	})
}

// TestEmailForwardedAsAttachment: a fax e-mail forwarded as an
// attachment (message/rfc822, a person's "forward as attachment" into
// the fax mailbox) gives its fax, and the call's details come from the
// forwarded message (its text lines, date and Message-ID), not from the
// forwarder's header; before, such a message had "no PDF or TIFF".
func TestEmailForwardedAsAttachment(t *testing.T) {
	dir := t.TempDir()
	inner := filepath.Join(dir, "inner.eml")
	writeEmail(t, inner, map[string]string{
		"To": "FAX=+15550199@fax.example.org", "Subject": "New fax (3 pages)",
		"Date": "Tue, 24 Nov 2026 09:15:02 -0500", "Message-ID": "<orig.7711@fax.example.com>",
	},
		part{contentType: "text/plain", encoding: "7bit", body: []byte("Caller ID: 555-0100\r\n")},
		part{contentType: "application/pdf", name: "fax.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"})
	innerBytes, err := os.ReadFile(inner)
	if err != nil {
		t.Fatal(err)
	}
	outer := filepath.Join(dir, "fw.eml")
	writeEmail(t, outer, map[string]string{
		"To": "faxes@clinic.example", "Subject": "FW: New fax (3 pages)",
		"Date": "Wed, 25 Nov 2026 08:00:00 -0500", "Message-ID": "<fw.1@clinic.example>",
	},
		part{contentType: "text/plain", encoding: "7bit", body: []byte("For the chart, thanks.\r\n")},
		part{contentType: "message/rfc822", name: "New fax.eml", body: innerBytes, encoding: "7bit"})
	b, _ := os.ReadFile(outer)
	e, err := readEmail(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.docs) != 1 {
		t.Fatalf("%d images, want the forwarded fax", len(e.docs))
	}
	var f faxfhir.Fax
	e.applyDoc(&f, 0, time.UTC)
	if f.CallerNumber != "555-0100" || f.CalledNumber != "+15550199" || f.Pages != 3 || f.CommID != "orig.7711@fax.example.com" ||
		!f.Received.Equal(time.Date(2026, 11, 24, 14, 15, 2, 0, time.UTC)) {
		t.Errorf("fax %+v, want the forwarded message's details", f)
	}

	// A forwarded notice with no fax in it: still no fax, said so.
	writeEmail(t, inner, map[string]string{"Subject": "Fax delivery failed"},
		part{contentType: "text/plain", encoding: "7bit", body: []byte("The fax could not be received.\r\n")})
	innerBytes, _ = os.ReadFile(inner)
	writeEmail(t, outer, map[string]string{"Subject": "FW: Fax delivery failed"},
		part{contentType: "message/rfc822", body: innerBytes, encoding: "7bit"})
	b, _ = os.ReadFile(outer)
	if _, _, err := emailInputs(adapters.Raw{Name: "fw.eml", Body: b}); err == nil || !strings.Contains(err.Error(), "no PDF or TIFF") {
		t.Errorf("a forwarded notice: %v", err)
	}
}

// TestEmailUnquotedBoundary: a multipart whose boundary is written
// unquoted with characters a MIME token may not hold ("----=_Part_…",
// which mime.ParseMediaType refuses) is still read part by part; before,
// its fax was not found.
func TestEmailUnquotedBoundary(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(pdfOf(t, "g4-fine-1p.tif"))
	msg := "Subject: Fax from 555-010-0142\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=----=_Part_17_1.2\r\n\r\n" +
		"------=_Part_17_1.2\r\nContent-Type: text/plain\r\n\r\nPages: 1\r\n" +
		"------=_Part_17_1.2\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n" +
		"------=_Part_17_1.2--\r\n"
	e, err := readEmail(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.docs) != 1 || e.fields["pages"] != "1" {
		t.Errorf("%d images, fields %v; want the PDF and the text's pages", len(e.docs), e.fields)
	}
}

// TestEmailMboxFromLine: a message saved with an mbox "From " line before
// its headers (as some mail tools write it) is read all the same.
func TestEmailMboxFromLine(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("From noreply@fax.example.com Wed Nov 25 16:00:00 2026\r\n")
	b.WriteString("Subject: Fax from 555-010-0142\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(base64.StdEncoding.EncodeToString(pdfOf(t, "g4-fine-1p.tif")) + "\r\n")
	e, err := readEmail(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.docs) != 1 {
		t.Fatalf("%d docs, want the PDF", len(e.docs))
	}
	var f faxfhir.Fax
	e.applyDoc(&f, 0, time.UTC)
	if f.CallerNumber != "555-010-0142" {
		t.Errorf("fax %+v", f)
	}
}
