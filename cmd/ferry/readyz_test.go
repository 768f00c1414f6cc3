package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// statusGet GETs path from the gateway's status listener and returns the
// answer's status code and body.
func statusGet(t *testing.T, gw *gateway, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + gw.statusAddr.String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

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
	get := func(path string) (int, string) { t.Helper(); return statusGet(t, gw, path) }
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "folder/ehr not started") || strings.Count(body, "folder/ehr") != 1 {
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

// TestReadyzQueueFull: README has /readyz answer ready once "the queue
// takes items", but a queue at queue.max_items, whose MLLP senders get
// AR and whose folders' files wait, was answered 200 ready; it is 503
// naming the limit until deliveries make room.
func TestReadyzQueueFull(t *testing.T) {
	paths, recv, url := testPKI(t)
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - {name: t, listen: "127.0.0.1:0"}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
queue:
  max_items: 1
`, t.TempDir(), url, paths.CA, paths.ClientCert, paths.ClientKey)
	cfg.Status.Listen = "127.0.0.1:0"
	gw := runGateway(t, cfg)
	get := func() (int, string) { t.Helper(); return statusGet(t, gw, "/readyz") }
	conn, rd := dial(t, gw)
	recv.SetFailure(http.StatusServiceUnavailable)
	if got := send(t, conn, rd, adt(0)); got != "AA" {
		t.Fatalf("MSA-1 %s, want AA", got)
	}
	if got := send(t, conn, rd, adt(1)); got != hl7v2.CodeAR {
		t.Fatalf("message beyond queue.max_items: MSA-1 %s, want AR", got)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "queue full") || !strings.Contains(body, "queue.max_items") {
		t.Errorf("/readyz with the queue full: %d %q", code, body)
	}
	recv.SetFailure(0)
	waitFor(t, "/readyz once deliveries made room", func() bool { code, _ := get(); return code == http.StatusOK })
}

// TestReadyzFolderGone: a folder source that started and whose folder
// was then removed (a share unmounted, an export job's folder deleted)
// takes nothing, and its scans say so (the status page shows it stuck),
// but /readyz answered 200 ready; it is 503 naming the folder and what
// its last scan found until a scan finds the folder again.
func TestReadyzFolderGone(t *testing.T) {
	if runtime.GOOS == "windows" {
		// Windows refuses to remove a folder a process holds open (a
		// sharing violation): there it cannot go from under ferry.
		t.Skip("Windows does not let a folder held open be removed")
	}
	root := t.TempDir()
	ehr := filepath.Join(root, "exports")
	if err := os.MkdirAll(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - {name: ehr, kind: ehr, path: %q, rescan: 50ms}
`, filepath.Join(root, "data"), ehr)
	cfg.Status.Listen = "127.0.0.1:0"
	gw := runGateway(t, cfg)
	get := func() (int, string) { t.Helper(); return statusGet(t, gw, "/readyz") }
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("/readyz with the folder there: %d %q", code, body)
	}
	if err := os.RemoveAll(ehr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz once the folder is gone", func() bool { code, _ := get(); return code == http.StatusServiceUnavailable })
	if _, body := get(); !strings.Contains(body, "folder/ehr") || !strings.Contains(body, "gone") {
		t.Errorf("/readyz with the folder gone: %q", body)
	}
	if err := os.MkdirAll(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz once the folder is back", func() bool { code, _ := get(); return code == http.StatusOK })
}
