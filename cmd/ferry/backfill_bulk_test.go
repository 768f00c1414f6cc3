package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackfillBulkExportOrder: `ferry backfill` of a saved FHIR Bulk Data
// export feeds its files in dependency order (Patient.ndjson before
// Encounter.ndjson and Observation.ndjson), as the live EHR drop takes
// them, with or without --folder; in path order, the queue delivered
// Encounter/e-p1 before Patient/p1, which an exchange enforcing
// referential integrity refuses. Other files keep their path order; with
// --folder the export's manifest is listed as skipped, not sent (without
// it, JSON that is no resource is quarantined, as before).
func TestBackfillBulkExportOrder(t *testing.T) {
	for _, withFolder := range []bool{false, true} {
		t.Run(fmt.Sprintf("folder=%v", withFolder), func(t *testing.T) {
			dir := t.TempDir()
			exp := filepath.Join(dir, "export")
			for name, body := range map[string]string{
				"Encounter.ndjson":   `{"resourceType":"Encounter","id":"e-p1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"}}` + "\n",
				"Observation.ndjson": `{"resourceType":"Observation","id":"o-p1","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e-p1"}}` + "\n",
				"Patient.ndjson":     `{"resourceType":"Patient","id":"p1"}` + "\n",
				"manifest.json":      `{"transactionTime":"2026-03-01T02:00:00Z","output":[{"type":"Patient","url":"https://ehr.example/f/Patient.ndjson"}]}`,
			} {
				putFile(t, filepath.Join(exp, name), []byte(body))
			}
			extra := ""
			args := []string{exp}
			if withFolder {
				extra = fmt.Sprintf("sources:\n  folders:\n    - {name: ehr, kind: ehr, path: %q}\n", filepath.Join(dir, "live-drop"))
				args = append(args, "--folder", "ehr")
			}
			cfgFile, cfg := backfillCfg(t, dir, extra)
			var out bytes.Buffer
			if err := cmdBackfill(context.Background(), append(args, "--config", cfgFile), &out, io.Discard); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			var order []string
			for _, b := range queuedBodies(t, cfg) {
				var bundle struct {
					Entry []struct {
						Resource struct{ ResourceType, ID string }
					}
				}
				if err := json.Unmarshal([]byte(b), &bundle); err != nil || len(bundle.Entry) != 1 {
					t.Fatalf("queued %s: %v", b, err)
				}
				order = append(order, bundle.Entry[0].Resource.ResourceType+"/"+bundle.Entry[0].Resource.ID)
			}
			if withFolder && !strings.Contains(out.String(), "1 skipped") {
				t.Errorf("the manifest is not listed as skipped:\n%s", out.String())
			}
			if got := strings.Join(order, ","); got != "Patient/p1,Encounter/e-p1,Observation/o-p1" {
				t.Errorf("delivered %s, want Patient/p1 first\n%s", got, out.String())
			}
		})
	}
}
