package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusFolderReplacedAdvice: a watched folder replaced while ferry
// runs (a share mounted over its mount point, an export job that makes
// its folder again) while files ferry took from the old one still wait
// to be stored (the queue full) is followed once those are settled, and
// the folder shows stuck meanwhile ("replaced, files of the old folder in
// processing"). `ferry status` ended that line with "check the
// permissions of PATH", sending the contractor to permissions that are
// fine; it now says what ferry waits for.
func TestStatusFolderReplacedAdvice(t *testing.T) {
	root := t.TempDir()
	ehr := filepath.Join(root, "exports")
	if err := os.MkdirAll(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	paths, recv, url := testPKI(t)
	recv.SetFailure(http.StatusServiceUnavailable)
	cfgFile := filepath.Join(root, "ferry.yaml")
	yaml := fmt.Sprintf(`data_dir: %q
status: {listen: %q}
sources:
  folders:
    - {name: ehr, kind: ehr, path: %q, settle: 20ms, rescan: 50ms}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 1h, max_interval: 1h}
queue: {max_items: 1}
`, filepath.Join(root, "data"), freeAddr(t), ehr, url, paths.CA, paths.ClientCert, paths.ClientKey)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	gw := runGateway(t, cfg)
	eng := gw.folders[0]
	if err := os.WriteFile(filepath.Join(ehr, "a.hl7"), []byte(adt(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first file queued", func() bool { return gw.q.Len() == 1 })
	if err := os.WriteFile(filepath.Join(ehr, "b.hl7"), []byte(adt(2)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second file retrying (queue full)", func() bool { return eng.Stats().Retrying == 1 })
	if err := os.Rename(ehr, ehr+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the folder shown replaced", func() bool {
		st := eng.Stats()
		return st.ClaimsFailing && strings.HasPrefix(st.LastClaimError, "replaced, files of the old folder")
	})
	var out bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(out.String()) {
		if strings.HasPrefix(l, "FOLDER STUCK:") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no FOLDER STUCK line:\n%s", out.String())
	}
	if strings.Contains(line, "check the permissions") {
		t.Errorf("FOLDER STUCK line sends to permissions: %s", line)
	}
	for _, want := range []string{"another folder", ehr, "old one"} {
		if !strings.Contains(line, want) {
			t.Errorf("FOLDER STUCK line lacks %q: %s", want, line)
		}
	}
}
