package xdmfhir

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/replaced"
)

// TestOriginalNamingSurvivorAfterMergedRecordsReplacement: an XDM
// replacement (RPLC of DOC-1) is accepted while its patient is MRN-B;
// A40s then merge MRN-B into MRN-M, and MRN-M into MRN-A (a chain); the original DOC-1 arrives last in a package made after the
// merges, naming the survivor MRN-A. The replacement was recorded under
// MRN-B's key, and the lookup looked under the named patient's key and
// its survivor's only, so the original was filed current beside its
// replacement in the merged patient's record.
func TestOriginalNamingSurvivorAfterMergedRecordsReplacement(t *testing.T) {
	dir := t.TempDir()
	reg, err := replaced.Open(filepath.Join(dir, replaced.FileName), replaced.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	mreg, err := merges.Open(filepath.Join(dir, merges.FileName), merges.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mreg.Close()
	c := &Converter{Docs: &faxfhir.Converter{Merges: mreg}, Replaced: reg.Replaced}
	const oid = "2.16.840.1.113883.19.5"
	entry := func(mrn, uniqueID string, related ...Relation) Entry {
		return Entry{MimeType: "application/pdf", UniqueID: oid + "^" + uniqueID,
			PatientID: mrn + "^^^&1.2.3.4&ISO", Related: related}
	}
	file := func(e Entry) faxfhir.Document {
		t.Helper()
		d := c.Document(e, time.Now())
		if err := c.registry(&d, e); err != nil {
			t.Fatal(err)
		}
		if err := reg.Add(d.Replaces...); err != nil {
			t.Fatal(err)
		}
		return d
	}
	file(entry("MRN-B", "DOC-2", Relation{Type: "RPLC", TargetUniqueID: oid + "^DOC-1"}))
	for _, m := range [][2]string{{"MRN-B", "MRN-M"}, {"MRN-M", "MRN-A"}} {
		if err := mreg.Record(merges.Merge{Retired: merges.ID{System: "urn:oid:1.2.3.4", Value: m[0]},
			Survivor: merges.ID{System: "urn:oid:1.2.3.4", Value: m[1]}}); err != nil {
			t.Fatal(err)
		}
	}
	if d := file(entry("MRN-A", "DOC-1")); !d.Superseded {
		t.Errorf("DOC-1 naming the survivor, replaced under a record merged into it, is filed current")
	}
	if d := file(entry("MRN-X", "DOC-1")); d.Superseded {
		t.Errorf("another patient's DOC-1 is filed superseded")
	}
}
