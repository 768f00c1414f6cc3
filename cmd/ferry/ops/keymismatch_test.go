package ops

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
)

// TestStatusShowsRenewalWithoutItsKey: a renewed certificate copied
// without its key cannot be loaded, and the running gateway keeps the old
// one; the status (page, `ferry status`, the daily warning) must say so,
// not show the new certificate's expiry as if all were well.
func TestStatusShowsRenewalWithoutItsKey(t *testing.T) {
	p, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.WriteDemoSet(filepath.Join(t.TempDir(), "renewed"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cfg.Exchange.TLS = configtls.ClientConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}
	status := func() CertStatus {
		for _, cs := range ConfiguredCertificates(cfg, time.Now()) {
			if cs.Use == "exchange client certificate" {
				return cs
			}
		}
		t.Fatal("no exchange client certificate in the status")
		return CertStatus{}
	}
	if cs := status(); cs.Error != "" {
		t.Fatalf("matching pair reported: %+v", cs)
	}
	renewed, _ := os.ReadFile(other.ClientCert)
	if err := os.WriteFile(p.ClientCert, renewed, 0o644); err != nil {
		t.Fatal(err)
	}
	// The error quotes its files (%q: doubled backslashes on Windows;
	// `ferry status` prints them plain).
	if cs := status(); !strings.Contains(cs.Error, "does not match") || !strings.Contains(cs.Error, strconv.Quote(p.ClientKey)) {
		t.Errorf("certificate without its key: status %+v, want the mismatch naming %s", cs, p.ClientKey)
	}
}
