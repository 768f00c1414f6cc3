package main

import (
	"slices"
	"testing"

	"github.com/ferry-health/ferry/config"
)

// TestServiceLayoutGivesEveryCertificateToTheService: `ferry install`
// (and --folders-only) makes each TLS file the configuration names
// readable by the service account, the audit repository's too, and the
// data-at-rest key private to it.
func TestServiceLayoutGivesEveryCertificateToTheService(t *testing.T) {
	cfg := config.Default()
	cfg.Exchange.TLS.CertFile, cfg.Exchange.TLS.KeyFile, cfg.Exchange.TLS.CAFile = "/etc/ferry/client.pem", "/etc/ferry/client.key", "/etc/ferry/hie-ca.pem"
	cfg.Audit.TLS.CertFile, cfg.Audit.TLS.KeyFile, cfg.Audit.TLS.CAFile = "/etc/ferry/audit.pem", "/etc/ferry/audit.key", "/etc/ferry/arr-ca.pem"
	cfg.Encryption.KeyFile = "/etc/ferry/ferry.key"
	l := serviceLayout("/etc/ferry/ferry.yaml", cfg)
	for _, f := range []string{"/etc/ferry/client.pem", "/etc/ferry/client.key", "/etc/ferry/hie-ca.pem", "/etc/ferry/audit.pem", "/etc/ferry/audit.key", "/etc/ferry/arr-ca.pem"} {
		if !slices.Contains(l.Readable, f) {
			t.Errorf("%s is not made readable by the service: %v", f, l.Readable)
		}
	}
	if !slices.Contains(l.Private, "/etc/ferry/ferry.key") {
		t.Errorf("the data-at-rest key is not the service's: %v", l.Private)
	}
}
