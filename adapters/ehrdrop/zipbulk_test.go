package ehrdrop

import (
	"context"
	"path"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// A FHIR Bulk Data export zipped whole (an EHI export, "Send to >
// Compressed folder" of the export's folder) lists its files by name:
// Encounter.ndjson and Observation.ndjson before Organization.ndjson and
// Patient.ndjson. Read in that order, each patient's Encounter and
// Observations were queued ahead of the Patient under the patient's key
// and reached the exchange first, which refuses a reference to a Patient
// it does not have yet (HAPI FHIR by default): dead letters. The
// archive's files are taken in the dependency order a folder takes them
// in (BulkRank), other files keeping their places.
func TestZipBulkExportDependencyOrder(t *testing.T) {
	set := bulkSet()
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names) // as zip tools list a folder
	files := []zipFile{{"export/notes.hl7", []byte("MSH|^~\\&|EHR|CLINIC|||20260301090000||ADT^A08|M1|P|2.5.1\rPID|1||MRN1^^^CLINIC^MR||Test^Pat\r")}}
	for _, n := range names {
		files = append(files, zipFile{"export/" + n, []byte(set[n])})
	}
	pipe, _ := newPipeline(t)
	rec := &recorder{next: pipe}
	src := &Source{next: rec, zip: defaultZipLimits, maxBody: 64 << 20}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "export.zip", Body: buildZip(t, time.Now(), files...), Meta: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rec.all() {
		got = append(got, path.Base(r.Meta[MetaEntry]))
	}
	if len(got) != len(files) || got[0] != "notes.hl7" {
		t.Fatalf("consumed %v", got)
	}
	if !slices.IsSortedFunc(got[1:], func(a, b string) int { return BulkRank(a) - BulkRank(b) }) {
		t.Errorf("the export's files were consumed in the order %v, not in dependency order", got)
	}
}
