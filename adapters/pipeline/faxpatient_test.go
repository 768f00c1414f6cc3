package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestFaxSameImageOtherPatientIsQueued: the same fax image filed for
// another patient (a corrected sidecar, one form faxed for two patients)
// is another document: the converter gives it other ids, and the folder
// engine's seen-set takes it as another input. The pipeline's duplicate
// filter must not then drop it as the first one's duplicate, or the
// second patient's document never reaches the exchange, silently (the
// file goes to done/ as if sent). The same fax for the same patient again
// stays a duplicate.
func TestFaxSameImageOtherPatientIsQueued(t *testing.T) {
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	conv, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1", PatientSystem: "urn:oid:2.16.840.1.113883.3.999.1",
		Author: faxfhir.OrgRef{Display: "Main Street Clinic"}, Custodian: faxfhir.OrgRef{Display: "Main Street Clinic"}})
	if err != nil {
		t.Fatal(err)
	}
	p := New(q, memSeen{}, quar, map[string]Converter{"fax": Fax{Conv: conv}}, nil)
	img, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fax", "g4-fine-1p.tif"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	send := func(mrn string) {
		t.Helper()
		f := faxfhir.Fax{Pages: 1, MRN: mrn, Received: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
		if err := p.Consume(ctx, adapters.Raw{Source: "fax/inbox", Format: "fax", Name: "scan.tif", Body: img, Meta: f.Meta()}); err != nil {
			t.Fatal(err)
		}
	}
	send("MRN-A")
	send("MRN-B")
	if q.Len() != 2 {
		t.Fatalf("queued %d bundles for one fax image filed for two patients, want 2 (duplicates %d)", q.Len(), p.Stats().Duplicates.Load())
	}
	send("MRN-B")
	send("")
	send("")
	if q.Len() != 3 || p.Stats().Duplicates.Load() != 2 {
		t.Fatalf("after resends: queued %d, duplicates %d; want 3 and 2", q.Len(), p.Stats().Duplicates.Load())
	}
}
