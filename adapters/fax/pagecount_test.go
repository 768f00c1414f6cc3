package fax

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
