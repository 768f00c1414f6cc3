package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/queuetest"
)

// TestGatewayStuckFolderInStatus freezes a watched folder (as a missing
// ReadWritePaths or a read-only mount would): the log warns once, naming
// the folder and the reason but not the file, and /api/status, /metrics
// and `ferry status` show the folder stuck.
func TestGatewayStuckFolderInStatus(t *testing.T) {
	root := t.TempDir()
	inbox := filepath.Join(root, "fax")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	statusAddr := freeAddr(t)
	cfgFile := filepath.Join(root, "ferry.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
data_dir: %q
sources:
  folders:
    - {name: ehr-drop, kind: ehr, path: %q, settle: 20ms, rescan: 100ms}
status:
  listen: %q
`, filepath.Join(root, "data"), inbox, statusAddr)), 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	_, logs := startLogged(t, cfg)

	if err := os.WriteFile(filepath.Join(inbox, "DOE_JANE_MRN777123.hl7"), []byte(adt(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	queuetest.SetImmutable(t, inbox)

	var st ops.Status
	waitFor(t, "the folder reported stuck", func() bool {
		resp, err := http.Get("http://" + statusAddr + "/api/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		st = ops.Status{}
		return json.NewDecoder(resp.Body).Decode(&st) == nil && len(st.Folders) == 1 &&
			st.Folders[0].ClaimsFailing && st.Folders[0].ClaimErrors >= 3 && st.Folders[0].Waiting == 1
	})
	if f := st.Folders[0]; f.Name != "ehr-drop" || f.Path != inbox || f.LastClaimError != "operation not permitted" || f.OldestWaiting.IsZero() {
		t.Errorf("folder status = %+v", f)
	}
	resp, err := http.Get("http://" + statusAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ferry_folder_claims_failing{folder="ehr-drop",kind="ehr"} 1`, `ferry_folder_files_waiting{folder="ehr-drop",kind="ehr"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`ferry_folder_claim_errors_total\{folder="ehr-drop",kind="ehr"\} [1-9]`).Match(metrics) {
		t.Errorf("/metrics has no claim errors:\n%s", metrics)
	}
	var out bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ehr ehr-drop:      1 waiting (oldest seen ", "FOLDER STUCK:      ehr-drop: files cannot be claimed (operation not permitted; "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ferry status lacks %q:\n%s", want, out.String())
		}
	}
	resp, err = http.Get("http://" + statusAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "files cannot be claimed (operation not permitted") {
		t.Errorf("status page does not show the stuck folder:\n%s", page)
	}
	l := logs.String()
	if n := strings.Count(l, "folder files cannot be claimed"); n != 1 {
		t.Errorf("%d warnings, want 1 (throttled):\n%s", n, l)
	}
	if !strings.Contains(l, `reason="operation not permitted"`) || !strings.Contains(l, "folder=ehr-drop") {
		t.Errorf("the warning lacks the folder or the reason:\n%s", l)
	}
	for _, leak := range []string{"DOE_JANE", "MRN777123"} {
		if strings.Contains(l, leak) || strings.Contains(out.String(), leak) || strings.Contains(string(page), leak) || strings.Contains(string(metrics), leak) {
			t.Errorf("%q leaked", leak)
		}
	}
}

// TestPruneLogHidesFileNames: a done/ day folder whose file cannot be
// removed is logged by the folder and day, not by the file's name.
func TestPruneLogHidesFileNames(t *testing.T) {
	dir := t.TempDir()
	watched := filepath.Join(dir, "fax")
	old := time.Now().AddDate(0, 0, -45).Format(time.DateOnly)
	day := filepath.Join(watched, ".ferry", "done", old)
	if err := os.MkdirAll(day, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(day, "DOE_JANE_MRN777123.tif"), []byte("II*\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	queuetest.SetImmutable(t, day)
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Sources.Folders = []config.Folder{{}}
	cfg.Sources.Folders[0].Name = "fax"
	cfg.Sources.Folders[0].Path = watched
	for _, phi := range []bool{false, true} {
		cfg.Log.PHI = phi // retention errors never name files, log.phi or not
		var logs bytes.Buffer
		g := &gateway{cfg: cfg, log: newLogger(&logs, "info")}
		g.pruneDelivered(context.Background())
		out := logs.String()
		if !strings.Contains(out, "retention: pruning done folder failed") || !strings.Contains(out, old) || !strings.Contains(out, "operation not permitted") {
			t.Errorf("no useful log line:\n%s", out)
		}
		if strings.Contains(out, "DOE_JANE") {
			t.Errorf("log names the file:\n%s", out)
		}
	}
}
