package fax

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestMixedCaseExtensionsAreFaxes: a fax named "Referral.Pdf" or
// "scan.Tif" (Windows tools and cloud-fax downloads write such names) is
// a fax like "x.pdf". The default include listed only all-lower and
// all-upper extensions, while sidecars matched in any case: such a fax
// and its "x.Json" lay in the inbox for ever, neither sent nor counted
// as waiting, and nothing told the operator.
func TestMixedCaseExtensionsAreFaxes(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	s := start(t, cfg, c)
	if err := os.WriteFile(filepath.Join(dir, "Referral.Json"), []byte(`{"mrn": "A-9"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Referral.Pdf"), pdfOf(t, "g3-1d-normal-3p.tif"), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), filepath.Join(dir, "scan.Tif"))
	seen := map[string]string{}
	for range 2 {
		g := c.next(t, s)
		seen[g.raw.Name] = faxfhir.FaxFromMeta(g.raw.Meta).MRN
	}
	if mrn, ok := seen["Referral.Pdf"]; !ok || mrn != "A-9" || len(seen) != 2 {
		t.Errorf("consumed %v, want Referral.Pdf (with its sidecar's MRN) and scan.Tif", seen)
	}
}
