package ehrdrop

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// A Bulk Data export's error file carries the server's "Error, warning,
// and information messages related to the export" (Bulk Data IG, the
// manifest's error list). One whose every issue is of severity
// information ("The issue has no relation to the degree of success of
// the action", FHIR R4 IssueSeverity) says nothing failed, yet it went to
// failed/ saying the export may be incomplete, every night for a server
// that notes, say, the types it had nothing of: an alert to chase for
// nothing, and one that teaches the operator to pass over the night it
// matters. Such a file is archived to done/ unsent with an INFO line, in
// a folder and in an archive; one with a warning, an error or a fatal
// issue (or an issue without a severity) goes to failed/ as before.
func TestBulkExportErrorFileInformationOnly(t *testing.T) {
	info := `{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","diagnostics":"No Immunization resources matched the export"}]}` + "\n" +
		`{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","diagnostics":"Export completed in 12 s"}]}` + "\n"
	dir := t.TempDir()
	pipe, q := newDiskPipeline(t)
	var logs logBuffer
	s, err := New(adapters.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, zipConfig(dir), pipe)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	copyIn(t, dir, "OperationOutcome.ndjson", []byte(info))
	settled(t, s, "OperationOutcome.ndjson", false)
	if m, _ := filepath.Glob(filepath.Join(s.Engine().Paths().Failed, "*")); len(m) != 0 {
		t.Errorf("failed/ holds %v", m)
	}
	if !strings.Contains(logs.String(), "information") {
		t.Errorf("log:\n%s", logs.String())
	}
	if q.Len() != 0 {
		t.Errorf("%d items queued from an error file", q.Len())
	}
	if ids, _ := pipe.Quarantine().List(); len(ids) != 0 {
		t.Errorf("%d quarantine entries for an error file", len(ids))
	}

	// Zipped with the export.
	mem, mq := newPipeline(t)
	src := &Source{next: mem, zip: defaultZipLimits, maxBody: 64 << 20, log: slog.New(slog.DiscardHandler)}
	zipped := buildZip(t, time.Now(), zipFile{"export/Patient.ndjson", []byte(bulkSet()["Patient.ndjson"])}, zipFile{"export/OperationOutcome.ndjson", []byte(info)})
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "export.zip", Body: zipped, Meta: map[string]string{}}); err != nil {
		t.Errorf("an export zipped with an error file of information only: %v", err)
	}
	if n := len(mq.all()); n != 2 {
		t.Errorf("%d bundles queued, want Patient.ndjson's 2", n)
	}

	// A warning among them: failed/, as before.
	warn := info + `{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"too-costly","diagnostics":"Binary resources were not exported"}]}` + "\n"
	for _, body := range []string{warn, `{"resourceType":"OperationOutcome","issue":[{"code":"processing"}]}` + "\n"} {
		if err := src.Feed(context.Background(), adapters.Raw{Name: "OperationOutcome.ndjson", Body: []byte(body), Meta: map[string]string{}}); err == nil || !strings.Contains(err.Error(), "error file") {
			t.Errorf("an error file with a warning or no severity: %v", err)
		}
	}
}
