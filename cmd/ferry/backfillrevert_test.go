package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
)

// TestBackfillNightlyExportRevertingQueued: an archive of nightly EHR
// exports, one folder a night, each with its MedicationRequest.ndjson: a
// drug active, on hold the next night, active again the night after, the
// third night's file byte for byte the first's. backfill fed it, and the
// pipeline dropped its line as a duplicate of the first night's (the
// file's digest, which scopes the key, being the same), so the exchange
// kept the drug on hold, as the live folder no longer does (last.sha256:
// a file taken again after another under its name is sent). A file whose
// content was fed before, fed after another of its name, is marked as
// retaken as the live folder marks it; a second run queues nothing.
func TestBackfillNightlyExportRevertingQueued(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "exports")
	med := func(status string) []byte {
		return []byte(`{"resourceType":"MedicationRequest","id":"m1","status":"` + status + `","intent":"order","subject":{"reference":"Patient/p7"},"medicationCodeableConcept":{"text":"lisinopril"}}` + "\n")
	}
	putFile(t, filepath.Join(exp, "2024-03-01", "MedicationRequest.ndjson"), med("active"))
	putFile(t, filepath.Join(exp, "2024-03-02", "MedicationRequest.ndjson"), med("on-hold"))
	putFile(t, filepath.Join(exp, "2024-03-03", "MedicationRequest.ndjson"), med("active"))
	cfgFile, cfg := backfillCfg(t, dir, "")
	for run := 1; run <= 2; run++ {
		var out bytes.Buffer
		if err := cmdBackfill(context.Background(), []string{exp, "--config", cfgFile}, &out, io.Discard); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out.String())
		}
	}
	var statuses []string
	for _, b := range queuedBodies(t, cfg) {
		var bundle struct {
			Entry []struct {
				Resource struct{ ResourceType, Status string }
			}
		}
		if err := json.Unmarshal([]byte(b), &bundle); err != nil {
			t.Fatal(err)
		}
		for _, e := range bundle.Entry {
			if e.Resource.ResourceType == "MedicationRequest" {
				statuses = append(statuses, e.Resource.Status)
			}
		}
	}
	if len(statuses) != 3 || statuses[2] != "active" {
		t.Fatalf("the exchange gets %q, want active, on-hold, active", statuses)
	}
}
