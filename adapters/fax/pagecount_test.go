package fax

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestFewerPagesThanTheSidecarSaysIsIncomplete: a cloud fax's sidecar
// counts 3 pages (FaxPages) but the TIFF beside it holds 1, the export or
// the receive having ended early. The fax went to the exchange as a whole
// "1 page" document, nothing saying two pages were missing; it is now
// delivered marked incomplete, as a fax whose sidecar says Partial is,
// the reason naming both counts, and the WARN says so.
func TestFewerPagesThanTheSidecarSaysIsIncomplete(t *testing.T) {
	dir := t.TempDir()
	sidecar := `{"CallerNumber":"+15550100","FaxPages":3,"MRN":"4711","PatientName":"Smith, John"}`
	if err := os.WriteFile(filepath.Join(dir, "Smith_John.json"), []byte(sidecar), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), filepath.Join(dir, "Smith_John.tif"))
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "cloud", dir
	g, logs := partialRun(t, cfg)
	checkPartial(t, g, logs, "the sidecar counts 3 pages, the file holds 1", "1 page received")
	if strings.Contains(logs, "Smith") || strings.Contains(logs, "4711") {
		t.Errorf("the WARN names the patient: %s", logs)
	}

	// As many pages as the sidecar counts, or more: whole.
	for _, pages := range []string{"3", "2"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.json"), []byte(`{"FaxPages":`+pages+`}`), 0o600); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(faxDir, "g4-fine-3p.tif"), filepath.Join(dir, "x.tif"))
		cfg := DefaultConfig(KindFax)
		cfg.Name, cfg.Path = "cloud", dir
		g, logs := partialRun(t, cfg)
		if d := str(docRef(g.bundle), "description"); strings.Contains(d, "INCOMPLETE") || strings.Contains(logs, "incomplete") {
			t.Errorf("sidecar %s pages, file 3: said incomplete: %q", pages, d)
		}
	}
}

// TestFewerPagesThanTheSidecarSaysIsIncompletePDF: the same for a PDF
// fax, whose page tree counts its pages: a sidecar counting 3 pages
// beside a 1-page PDF went to the exchange described as "3 pages", whole.
func TestFewerPagesThanTheSidecarSaysIsIncompletePDF(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Smith_John.json"), []byte(`{"CallerNumber":"+15550100","FaxPages":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Smith_John.pdf"), pdfOf(t, "g4-fine-1p.tif"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "cloud", dir
	g, logs := partialRun(t, cfg)
	checkPartial(t, g, logs, "the sidecar counts 3 pages, the file holds 1", "1 page received")
	if d := str(docRef(g.bundle), "description"); !strings.Contains(d, "+15550100, 1 page. ") {
		t.Errorf("description gives the sidecar's count: %q", d)
	}

	// A PDF with the pages its sidecar counts is whole.
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.json"), []byte(`{"FaxPages":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.pdf"), pdfOf(t, "g4-fine-3p.tif"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Path = dir
	g, logs = partialRun(t, cfg)
	if d := str(docRef(g.bundle), "description"); strings.Contains(d, "INCOMPLETE") || strings.Contains(logs, "incomplete") || !strings.Contains(d, "3 pages") {
		t.Errorf("a whole 3-page PDF: %q", d)
	}
}

// TestSidecarPagesOfAnEmailWithSeveralFaxes: a sidecar beside an e-mail
// (x.json beside x.eml) describes the message, and its page count is
// that of all its faxes together: an e-mail of a 1-page and a 3-page fax
// whose sidecar counts 4 pages holds every page, and neither fax is
// incomplete. Each was compared with the whole count, and both went to
// the exchange marked incomplete.
func TestSidecarPagesOfAnEmailWithSeveralFaxes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.eml")
	writeEmail(t, path, map[string]string{"To": "FAX=+15550199@fax.example.org", "Subject": "New fax",
		"Date": "Tue, 24 Nov 2026 09:15:02 -0500", "Message-ID": "<one@fax.example.com>"},
		part{contentType: "application/pdf", name: "a.pdf", body: pdfOf(t, "g4-fine-1p.tif"), encoding: "base64"},
		part{contentType: "application/pdf", name: "b.pdf", body: pdfOf(t, "g4-fine-3p.tif"), encoding: "base64"})
	b, err := os.ReadFile(path)
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
	in := adapters.Raw{Name: "x.eml", Body: b, Received: time.Now(), Meta: map[string]string{folder.MetaFile: "x.eml"},
		Sidecars: map[string][]byte{"x.json": []byte(`{"FaxPages":4}`)}}
	if err := s.Feed(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var g got
		select {
		case g = <-c.got:
		default:
			t.Fatal("a fax was not handed on")
		}
		if f := faxfhir.FaxFromMeta(g.raw.Meta); f.Partial {
			t.Errorf("%s: marked incomplete (%s)", g.raw.Name, f.PartialReason)
		}
	}
	if n := s.Incomplete(); n != 0 {
		t.Errorf("incomplete count %d", n)
	}
}
