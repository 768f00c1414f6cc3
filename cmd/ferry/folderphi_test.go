package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayFolderLogsHideFileNames is the audit's repro: an EHR folder,
// queue.max_items 1, the exchange down. The second file cannot be queued
// and is retried; the log says so at INFO and up without the file names
// (patient names and MRNs), and the status report counts the folder's
// files.
func TestGatewayFolderLogsHideFileNames(t *testing.T) {
	paths, recv, url := testPKI(t)
	root := t.TempDir()
	inbox := filepath.Join(root, "exports")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - {name: ehr, kind: ehr, path: %q, settle: 20ms, rescan: 200ms, retry_initial: 20ms, retry_max: 100ms}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
queue:
  max_items: 1
`, filepath.Join(root, "data"), inbox, url, paths.CA, paths.ClientCert, paths.ClientKey)
	recv.SetFailure(http.StatusServiceUnavailable)
	gw, logs := startLogged(t, cfg)

	names := []string{"DOE_JANE_MRN777123_labresults.hl7", "ROE_RICHARD_MRN888555_adt.hl7"}
	for i, n := range names {
		tmp := filepath.Join(inbox, n+".tmp")
		if err := os.WriteFile(tmp, []byte(adt(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(inbox, n)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a retry for the full queue", func() bool {
		return strings.Contains(logs.String(), "folder input not consumed; will retry") && strings.Contains(logs.String(), "queue is full")
	})
	out := logs.String()
	for _, leak := range []string{"DOE_JANE", "MRN777123", "ROE_RICHARD", "MRN888555"} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds %q:\n%s", leak, out)
		}
	}
	// The file keeps being retried, so the figures move on: the JSON and
	// the metrics below are checked on the one report that matched.
	var report = gw.report()
	waitFor(t, "folder figures", func() bool {
		report = gw.report()
		r := report
		return len(r.Folders) == 1 && r.Folders[0].Claimed == 2 && r.Folders[0].Done == 1 && r.Folders[0].Retrying == 1
	})
	b, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	if !strings.Contains(js, `"folders":[{"name":"ehr","kind":"ehr","path":"`) || !strings.Contains(js, `"retrying":1`) {
		t.Errorf("/api/status JSON lacks the folder:\n%s", js)
	}
	for _, leak := range []string{"DOE_JANE", "ROE_RICHARD"} {
		if strings.Contains(js, leak) {
			t.Errorf("status report holds %q", leak)
		}
	}
	var metrics strings.Builder
	writeMetrics(&metrics, report)
	for _, want := range []string{
		`ferry_folder_files_claimed_total{folder="ehr",kind="ehr"} 2`,
		`ferry_folder_files_retrying{folder="ehr",kind="ehr"} 1`,
		`ferry_folder_claims_failing{folder="ehr",kind="ehr"} 0`,
		"# TYPE ferry_folder_oldest_waiting_age_seconds gauge",
	} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics.String())
		}
	}
	recv.SetFailure(0)
	waitFor(t, "both delivered", func() bool { return gw.report().Folders[0].Done == 2 && gw.q.Len() == 0 })
}
