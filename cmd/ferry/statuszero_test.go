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

// TestStatusJSONNoYearOne: /api/status and `ferry status --json` of a
// gateway with an empty queue that has delivered nothing wrote the
// queue's Oldest, and the delivery's LastDelivery and LastErrorAt, as
// "0001-01-01T00:00:00Z", which a dashboard reads as an item queued two
// thousand years ago. A time that does not exist is now left out (the
// folders' oldest_waiting already was), under the same names otherwise.
func TestStatusJSONNoYearOne(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, "data_dir: %q\nstatus: {listen: %q}\n", filepath.Join(dir, "data"), freeAddr(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	gw := runGateway(t, cfg)
	resp, err := http.Get("http://" + gw.statusAddr.String() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	api, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cli bytes.Buffer
	if err := cmdStatus(context.Background(), []string{"--config", cfgFile, "--json"}, &cli, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var offline bytes.Buffer
	cmdStatus(context.Background(), []string{"--config", cfgFile, "--json"}, &offline, io.Discard)
	for name, b := range map[string]string{"/api/status": string(api), "status --json": cli.String(), "status --json, not running": offline.String()} {
		if !strings.Contains(b, `"Depth": 0`) {
			t.Errorf("%s lacks the queue:\n%s", name, b)
		}
		if strings.Contains(b, "0001-01-01") {
			t.Errorf("%s has a time of year 1:\n%s", name, b)
		}
	}
}

// TestStatusJSONNoYearOneAuditAndCertificates: README leaves a time that
// has not happened out of /api/status, but the audit trail's LastErrorAt
// with no error yet, and the not_after of a certificate whose file can no
// longer be read (renewed half copied), were written as
// "0001-01-01T00:00:00Z".
func TestStatusJSONNoYearOneAuditAndCertificates(t *testing.T) {
	paths, _, url := testPKI(t)
	repo := newUDPRepo(t)
	cert := filepath.Join(t.TempDir(), "client.pem")
	copyFile(t, paths.ClientCert, cert)
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
`, t.TempDir(), repo.URL(), url, paths.CA, cert, paths.ClientKey)
	cfg.Status.Listen = "127.0.0.1:0"
	gw := runGateway(t, cfg)
	if err := os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\nhalf"), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + gw.statusAddr.String() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	api, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(api), `"audit"`) || !strings.Contains(string(api), `"error"`) {
		t.Fatalf("/api/status lacks the audit trail or the certificate's error:\n%s", api)
	}
	if strings.Contains(string(api), "0001-01-01") {
		t.Errorf("/api/status has a time of year 1:\n%s", api)
	}
}
