package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadyz: /healthz answers ok as soon as the status page is up,
// whatever the gateway can do, so a monitor or an installer waiting for a
// start could not tell a gateway that takes input from one whose folder
// source could not start. /readyz answers 200 only once every source is
// started and the queue takes items, and 503 naming what is not ready
// otherwise; /healthz keeps saying ok.
func TestReadyz(t *testing.T) {
	old := folderStartRetry
	folderStartRetry = 50 * time.Millisecond
	t.Cleanup(func() { folderStartRetry = old })
	root := t.TempDir()
	ehr := filepath.Join(root, "share", "exports")
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - {name: m, listen: "127.0.0.1:0"}
  folders:
    - {name: ehr, kind: ehr, path: %q}
`, filepath.Join(root, "data"), ehr)
	cfg.Status.Listen = "127.0.0.1:0"
	gw := runGateway(t, cfg)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + gw.statusAddr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "folder/ehr") {
		t.Errorf("/readyz with a folder source not started: %d %q", code, body)
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if err := os.MkdirAll(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz once the folder started", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })
	if _, body := get("/readyz"); body != "ready\n" {
		t.Errorf("/readyz: %q", body)
	}
}
