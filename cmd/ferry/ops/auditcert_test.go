package ops

import (
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configtls"
)

// TestAuditCertificatesChecked: an audit client certificate about to
// expire shows in the doctor's certificate checks and in the status
// (and so the daily expiry warning), like the exchange's.
func TestAuditCertificatesChecked(t *testing.T) {
	dir := t.TempDir()
	repo := newPKI(t, dir, "audit")
	now := time.Now()
	c, k, err := repo.ca.IssueValid("ferry audit client", nil, nil, true, now.Add(-time.Hour), now.Add(10*24*time.Hour+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, key := writeFile(t, dir, "audit-soon.pem", c), writeFile(t, dir, "audit-soon.key", k)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Audit = config.Audit{URL: "tls://audit.example:6514", SourceID: "clinic-1",
		TLS: configtls.ClientConfig{CAFile: repo.caFile, CertFile: cert, KeyFile: key}}

	var gotCert, gotCA bool
	for _, ch := range CheckCertificates(cfg, DoctorOptions{Now: now}) {
		switch {
		case ch.Name == "audit.tls.cert_file "+cert:
			gotCert = true
			if ch.Level != Warn || !strings.Contains(ch.Detail, "10 days left") {
				t.Errorf("audit certificate check: %+v", ch)
			}
		case ch.Name == "audit.tls.ca_file "+repo.caFile:
			gotCA = true
			if ch.Level != OK {
				t.Errorf("audit CA check: %+v", ch)
			}
		}
	}
	if !gotCert || !gotCA {
		t.Errorf("doctor does not check the audit certificates (cert %v, CA %v)", gotCert, gotCA)
	}

	var listed bool
	for _, cs := range ConfiguredCertificates(cfg, now) {
		if cs.Use == "audit client certificate" && cs.File == cert {
			listed = true
			if cs.Error != "" || cs.DaysLeft < 9 || cs.DaysLeft > 10 {
				t.Errorf("audit certificate status: %+v", cs)
			}
		}
	}
	if !listed {
		t.Errorf("ConfiguredCertificates leaves out the audit certificate: %+v", ConfiguredCertificates(cfg, now))
	}

	// A UDAP client certificate is watched like the TLS one.
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cfg.Exchange.Auth.UDAP.CertFile, cfg.Exchange.Auth.UDAP.TrustAnchors = cert, repo.caFile
	listed = false
	for _, cs := range ConfiguredCertificates(cfg, now) {
		listed = listed || cs.Use == "UDAP client certificate" && cs.File == cert && cs.DaysLeft >= 9 && cs.DaysLeft <= 10
	}
	if !listed {
		t.Errorf("ConfiguredCertificates leaves out the UDAP certificate: %+v", ConfiguredCertificates(cfg, now))
	}

	// Audit off: nothing about audit certificates.
	cfg.Audit.URL = ""
	for _, ch := range CheckCertificates(cfg, DoctorOptions{Now: now}) {
		if strings.HasPrefix(ch.Name, "audit.") {
			t.Errorf("audit off, yet checked: %+v", ch)
		}
	}
}

// TestCheckHoldPolicy: the doctor warns when an exchange is configured
// and nothing is held; it is quiet in outbox mode.
func TestCheckHoldPolicy(t *testing.T) {
	cfg := config.Default()
	if cs := CheckHoldPolicy(cfg); len(cs) != 0 {
		t.Errorf("outbox mode: %+v", cs)
	}
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cs := CheckHoldPolicy(cfg)
	if len(cs) != 1 || cs[0].Level != Warn || !strings.Contains(cs[0].Detail, "42CFRPart2") {
		t.Errorf("exchange without hold: %+v", cs)
	}
	cfg.Exchange.Hold = []string{"R", "42CFRPart2"}
	if cs := CheckHoldPolicy(cfg); len(cs) != 1 || cs[0].Level != OK || !strings.Contains(cs[0].Detail, "R, 42CFRPart2") {
		t.Errorf("exchange with hold: %+v", cs)
	}
}
