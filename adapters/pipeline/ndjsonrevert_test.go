package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestNDJSONLaterExportRevertingResourceQueued: an NDJSON line was a
// duplicate of any earlier file's line with the same bytes, so a nightly
// export whose resource went back to what it was two nights before (a
// drug active, on hold, active again, the file changed elsewhere) was
// dropped and the exchange kept it on hold. A line is a duplicate only
// of the same file's; the same file again (a retry, a rescan) and a file
// the folder took again give the keys the folder's digest and
// folder.MetaRetaken make them.
func TestNDJSONLaterExportRevertingResourceQueued(t *testing.T) {
	p, q := dedupedPipeline(t, map[string]Converter{"fhir-ndjson": FHIRJSON{}})
	ctx := context.Background()
	med := func(id, status string) string {
		return `{"resourceType":"MedicationRequest","id":"` + id + `","status":"` + status + `","intent":"order","subject":{"reference":"Patient/p7"},"medicationCodeableConcept":{"text":"lisinopril"}}` + "\n"
	}
	nightly := func(body string, meta map[string]string) adapters.Raw {
		sum := sha256.Sum256([]byte(body))
		m := map[string]string{folder.MetaFolder: "ehr", folder.MetaSHA256: hex.EncodeToString(sum[:])}
		for k, v := range meta {
			m[k] = v
		}
		return adapters.Raw{Source: "folder/ehr", Name: "MedicationRequest.ndjson", Format: "fhir-ndjson", Received: time.Now(), Meta: m, Body: []byte(body)}
	}
	exchange := map[string]string{}
	deliver := func() int { return deliverStatuses(t, q, "MedicationRequest", exchange) }
	for _, body := range []string{
		med("m1", "active") + med("m2", "active"),
		med("m1", "on-hold") + med("m2", "active"),
		med("m1", "active") + med("m2", "stopped"),
	} {
		if err := p.Consume(ctx, nightly(body, nil)); err != nil {
			t.Fatal(err)
		}
		deliver()
	}
	if s := exchange["MedicationRequest/m1"]; s != "active" {
		t.Fatalf("after the third night the exchange holds m1 as %q, want active (%v)", s, exchange)
	}
	// The third night's file again (a retry, a rescan) queues nothing.
	third := med("m1", "active") + med("m2", "stopped")
	if err := p.Consume(ctx, nightly(third, nil)); err != nil {
		t.Fatal(err)
	}
	if n := deliver(); n != 0 {
		t.Errorf("the third night's file again queued %d bundles", n)
	}
	// The first night's file whole, taken again by the folder after
	// others came under its name: sent, so m2 is active again.
	first := med("m1", "active") + med("m2", "active")
	if err := p.Consume(ctx, nightly(first, map[string]string{folder.MetaRetaken: "00ff"})); err != nil {
		t.Fatal(err)
	}
	deliver()
	if s := exchange["MedicationRequest/m2"]; s != "active" {
		t.Fatalf("the first night's file taken again left m2 %q at the exchange, want active", s)
	}
}
