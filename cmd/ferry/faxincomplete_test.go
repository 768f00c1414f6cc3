package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIncompleteFaxesCounted: a fax whose call ended early is delivered
// marked incomplete, and the status report and /metrics count it by its
// inbox (ferry_fax_incomplete_total), so an operator's alert sees it
// without reading the log; a fax that came whole is not counted.
func TestIncompleteFaxesCounted(t *testing.T) {
	paths, recv, url := testPKI(t)
	root := t.TempDir()
	faxIn := filepath.Join(root, "fax")
	if err := os.MkdirAll(faxIn, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - {name: cloudfax, kind: fax, path: %q, settle: 20ms, rescan: 200ms}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
fax:
  source_id: 1.3.6.1.4.1.21367.2026.1
`, filepath.Join(root, "data"), faxIn, url, paths.CA, paths.ClientCert, paths.ClientKey)
	gw := runGateway(t, cfg)

	for name, sidecar := range map[string]string{"a": `{"CallerNumber":"+15550100","Partial":true}`, "b": `{"CallerNumber":"+15550101"}`} {
		if err := os.WriteFile(filepath.Join(faxIn, name+".json"), []byte(sidecar), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, "../../testdata/fax/g4-fine-1p.tif", filepath.Join(faxIn, "a.tif"))
	copyFile(t, "../../testdata/fax/g3-1d-normal-3p.tif", filepath.Join(faxIn, "b.tif"))
	waitFor(t, "two faxes delivered", func() bool { return len(recv.Resources("DocumentReference")) >= 2 && gw.q.Len() == 0 })

	r := gw.report()
	if len(r.Folders) != 1 || r.Folders[0].FaxesIncomplete != 1 {
		t.Fatalf("folders %+v: want one with 1 incomplete fax", r.Folders)
	}
	var metrics strings.Builder
	writeMetrics(&metrics, r)
	if want := `ferry_fax_incomplete_total{folder="cloudfax"} 1` + "\n"; !strings.Contains(metrics.String(), want) {
		t.Errorf("/metrics lacks %q:\n%s", want, metrics.String())
	}
}
