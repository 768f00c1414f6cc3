package fax

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// TestSameImageOtherNamedPatientIsConsumed: with file name patterns the
// name is the fax's metadata, as a sidecar is: the same fax image under
// a name that names another patient (a misfiled fax renamed with the
// right MRN and dropped again, one form faxed for two patients) is
// another input, and must reach the converter with that patient. It was
// archived in done/ as a duplicate of the first, so the right patient's
// document never reached the exchange. The same image under the same
// name again stays a duplicate.
func TestSameImageOtherNamedPatientIsConsumed(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	cfg.Patterns = []string{`^(?P<mrn>\d+)_`}
	s := start(t, cfg, c)
	img := filepath.Join(faxDir, "g4-fine-1p.tif")

	copyFile(t, img, filepath.Join(dir, "12345_referral.tif"))
	if g := c.next(t, s); faxfhir.FaxFromMeta(g.raw.Meta).MRN != "12345" {
		t.Fatalf("first fax: MRN %q", g.raw.Meta[faxfhir.MetaMRN])
	}
	copyFile(t, img, filepath.Join(dir, "67890_referral.tif"))
	if g := c.next(t, s); faxfhir.FaxFromMeta(g.raw.Meta).MRN != "67890" {
		t.Fatalf("renamed fax: MRN %q", g.raw.Meta[faxfhir.MetaMRN])
	}
	copyFile(t, img, filepath.Join(dir, "12345_referral.tif"))
	deadline := time.Now().Add(10 * time.Second)
	for s.Engine().Stats().Duplicates != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the same image under the same name again was not taken as a duplicate")
		}
		s.Engine().Rescan()
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case g := <-c.got:
		t.Fatalf("the duplicate was consumed: %s", g.raw.Name)
	default:
	}
}
