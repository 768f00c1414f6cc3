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
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
)

// TestGatewayFolderEntriesNotTakenInStatus: a symbolic link, a named pipe
// and an empty file in a watched folder are not taken, and the operator
// who looks for a file that did not arrive sees them counted in
// /api/status, /metrics, `ferry status` and the status page, without
// their names, while the file beside them is taken.
func TestGatewayFolderEntriesNotTakenInStatus(t *testing.T) {
	root := t.TempDir()
	inbox := filepath.Join(root, "fax")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(root, "elsewhere.hl7")
	os.WriteFile(target, []byte(adt(2)), 0o600)
	if err := os.Symlink(target, filepath.Join(inbox, "DOE_JANE_link.hl7")); err != nil {
		t.Fatal(err)
	}
	pipe := filepath.Join(inbox, "DOE_JANE_pipe.hl7")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // frees a reader blocked on the pipe, should one be
		if f, err := os.OpenFile(pipe, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	os.WriteFile(filepath.Join(inbox, "DOE_JANE_empty.hl7"), nil, 0o644)
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
	if err := os.WriteFile(filepath.Join(inbox, "next.hl7"), []byte(adt(1)), 0o644); err != nil {
		t.Fatal(err)
	}

	var st ops.Status
	waitFor(t, "the entries counted and the file beside them taken", func() bool {
		resp, err := http.Get("http://" + statusAddr + "/api/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		st = ops.Status{}
		return json.NewDecoder(resp.Body).Decode(&st) == nil && len(st.Folders) == 1 &&
			st.Folders[0].Done == 1 && st.Folders[0].Symlinks == 1 && st.Folders[0].SpecialFiles == 1 && st.Folders[0].Empty == 1
	})
	if f := st.Folders[0]; f.Waiting != 1 || f.Failed != 0 || f.ClaimsFailing {
		t.Errorf("folder status = %+v, want the empty file waiting, nothing failed", f)
	}
	resp, err := http.Get("http://" + statusAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ferry_folder_symlinks{folder="ehr-drop",kind="ehr"} 1`, `ferry_folder_special_files{folder="ehr-drop",kind="ehr"} 1`,
		`ferry_folder_files_empty{folder="ehr-drop",kind="ehr"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	var out bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 of them empty (0 bytes)", "not taken: 1 symbolic link(s), 1 named pipe(s) or other special file(s)"} {
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
	if !strings.Contains(string(page), "1 symbolic link 1 special file (pipes, devices)") || !strings.Contains(string(page), "1 empty (waiting to be written)") {
		t.Errorf("status page does not show the entries not taken:\n%s", page)
	}
	for _, where := range []string{logs.String(), out.String(), string(page), string(metrics)} {
		if strings.Contains(where, "DOE_JANE") {
			t.Errorf("a file name is shown:\n%s", where)
		}
	}
	if !strings.Contains(logs.String(), "folder entries left in place") {
		t.Errorf("no warning in the log:\n%s", logs.String())
	}
}
