package ehrdrop

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// A Bulk Data export's error file saved as UTF-16 with its byte-order
// mark, which README says a FHIR file may be, is the export's error file
// still: refused whole saying the export may be incomplete, not each of
// its OperationOutcomes quarantined as a resource the exchange stores not.
func TestBulkExportErrorFileUTF16(t *testing.T) {
	oo := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing"}]}` + "\r\n" +
		`{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"too-costly"}]}` + "\r\n"
	pipe, q := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	err := src.Feed(context.Background(), adapters.Raw{Name: "OperationOutcome.ndjson", Body: utf16LE(oo), Meta: map[string]string{}})
	if err == nil || !queue.IsPermanent(err) || !strings.Contains(err.Error(), "error file (2 OperationOutcome line(s)") {
		t.Errorf("err %v, want the export's error file refused", err)
	}
	if n := len(q.all()); n != 0 {
		t.Errorf("%d items queued", n)
	}
	if ids, _ := pipe.Quarantine().List(); len(ids) != 0 {
		t.Errorf("%d quarantine entries for an error file", len(ids))
	}
}
