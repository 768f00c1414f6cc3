package ehrdrop

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// A FHIR Bulk Data export zipped with its manifest, whose files keep the
// names the manifest's urls give them (as Cerner's and IBM's exports
// are saved: ..._Patient.ndjson, AllergyIntolerance_1.ndjson), but
// without one of them (a download that failed, a file left out when the
// folder was zipped): the manifest was archived unsent and the archive
// went to done/ as if whole, so the resources of the missing file never
// reached the exchange and nothing said so. Every file the manifest
// lists (output and error) must be in the archive: one that is not is
// named in .error.txt, the archive going to failed/ once the others are
// queued. An export whose files the client named its own way (none of
// the urls' names in the archive) cannot be checked, and is taken as
// before.
func TestZipBulkManifestListedFileMissing(t *testing.T) {
	set := bulkSet()
	manifest := func(files ...string) zipFile {
		var out []string
		for _, f := range files {
			typ, _ := BulkFileType(f)
			out = append(out, `{"type":"`+typ+`","url":"https://ehr.example/bulk/job1/`+f+`"}`)
		}
		return zipFile{"export/manifest.json", []byte(`{"transactionTime":"2026-03-01T02:00:00Z","request":"https://ehr.example/fhir/$export","requiresAccessToken":true,` +
			`"output":[` + strings.Join(out, ",") + `],"error":[]}`)}
	}
	consume := func(files ...zipFile) (int, error) {
		pipe, q := newPipeline(t)
		src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20, log: slog.New(slog.DiscardHandler)}
		err := src.consumeZip(context.Background(), adapters.Raw{Name: "export.zip", Body: buildZip(t, time.Now(), files...), Meta: map[string]string{}})
		return len(q.all()), err
	}
	patients := zipFile{"export/Patient.ndjson", []byte(set["Patient.ndjson"])}
	encounters := zipFile{"export/Encounter.ndjson", []byte(set["Encounter.ndjson"])}

	queued, err := consume(manifest("Patient.ndjson", "Encounter.ndjson", "Observation.ndjson"), patients, encounters)
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "export.zip: export/manifest.json: ") ||
		!strings.Contains(err.Error(), "Observation.ndjson") || !strings.Contains(err.Error(), "does not hold") {
		t.Errorf("an export without a file its manifest lists: %v", err)
	}
	if queued != 4 {
		t.Errorf("%d bundles queued, want the 4 of the files there", queued)
	}

	// The error file the manifest lists is missing too: the server's
	// report of what it could not export would be lost.
	errManifest := manifest("Patient.ndjson")
	errManifest.data = []byte(strings.Replace(string(errManifest.data), `"error":[]`, `"error":[{"type":"OperationOutcome","url":"https://ehr.example/bulk/job1/errors.ndjson"}]`, 1))
	if _, err := consume(errManifest, patients); !queue.IsPermanent(err) || !strings.Contains(err.Error(), "errors.ndjson") {
		t.Errorf("an export without the error file its manifest lists: %v", err)
	}

	// Whole: taken as before.
	if queued, err := consume(manifest("Patient.ndjson", "Encounter.ndjson"), patients, encounters); err != nil || queued != 4 {
		t.Errorf("a whole export: %v, %d queued", err, queued)
	}
	// Files named by the client, none as the urls name them: cannot be
	// checked.
	renamed := manifest("Patient.ndjson", "Encounter.ndjson")
	renamed.data = []byte(strings.ReplaceAll(string(renamed.data), "job1/", "job1/x"))
	if queued, err := consume(renamed, patients, encounters); err != nil || queued != 4 {
		t.Errorf("an export its client named: %v, %d queued", err, queued)
	}
}
