package ehrdrop

import (
	"context"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"
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

// The same export zipped whole with its manifest (manifest.json) and its
// error file (OperationOutcome.ndjson) beside the data: as in a folder,
// the manifest is no resource and is not sent, and the error file is
// named for what it is. The manifest was handed to the pipeline, which
// has no converter for it: quarantined as of no known format, and the
// whole archive went to failed/ for it; the error file's lines were each
// quarantined as an OperationOutcome instead of the file being named the
// export's error report.
func TestZipBulkExportManifestAndErrorFile(t *testing.T) {
	set := bulkSet()
	manifest := []byte(`{"transactionTime":"2026-03-01T02:00:00Z","request":"https://ehr.example/fhir/$export","requiresAccessToken":true,` +
		`"output":[{"type":"Patient","url":"https://ehr.example/files/Patient.ndjson"}],"error":[]}`)
	data := func(extra ...zipFile) []byte {
		return buildZip(t, time.Now(), append([]zipFile{
			{"export/manifest.json", manifest},
			{"export/Patient.ndjson", []byte(set["Patient.ndjson"])},
		}, extra...)...)
	}
	pipe, q := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20, log: slog.New(slog.DiscardHandler)}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "export.zip", Body: data(), Meta: map[string]string{}}); err != nil {
		t.Fatalf("an export zipped with its manifest: %v", err)
	}
	if got := len(q.all()); got != 2 {
		t.Errorf("%d bundles queued, want Patient.ndjson's 2", got)
	}
	if ids, _ := pipe.Quarantine().List(); len(ids) != 0 {
		t.Errorf("%d quarantine entries", len(ids))
	}

	oo := []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Observation export failed"}]}` + "\n")
	err := src.consumeZip(context.Background(), adapters.Raw{Name: "export2.zip", Body: data(zipFile{"export/OperationOutcome.ndjson", oo}), Meta: map[string]string{}})
	if err == nil || !strings.Contains(err.Error(), "export/OperationOutcome.ndjson") || !strings.Contains(err.Error(), "error file") {
		t.Errorf("an export zipped with its error file: %v", err)
	}
	if ids, _ := pipe.Quarantine().List(); len(ids) != 0 {
		t.Errorf("%d quarantine entries for the error file", len(ids))
	}
}
