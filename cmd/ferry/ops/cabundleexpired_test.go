package ops

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
)

// TestCABundleWithExpiredOldCA: a CA file that holds the exchange's new
// root beside its old, expired one (the new appended at a rotation) works,
// since the gateway leaves an expired CA out of the pool and trusts the
// others; yet ferry status said the exchange CA had EXPIRED, /metrics gave
// the old one's expiry, and ferry doctor failed the file with "ask for a
// renewed certificate", which the file already holds. The status gives
// the expiry of the CAs in use, and the doctor warns about the expired
// one, to be removed.
func TestCABundleWithExpiredOldCA(t *testing.T) {
	now := time.Now()
	mint := func(cn string, notAfter time.Time) []byte {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-400 * 24 * time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	newExpiry := now.Add(3 * 365 * 24 * time.Hour)
	bundle := append(mint("exchange root 2023", now.Add(-10*24*time.Hour)), mint("exchange root 2026", newExpiry)...)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cfg.Exchange.TLS.CAFile = writeFile(t, t.TempDir(), "ca.pem", bundle)

	certs := ConfiguredCertificates(cfg, now)
	if len(certs) != 1 || certs[0].Error != "" {
		t.Fatalf("%+v", certs)
	}
	if c := certs[0]; c.DaysLeft < 0 || !c.NotAfter.Equal(newExpiry.Truncate(time.Second)) || c.Subject != "exchange root 2026" {
		t.Errorf("status gives %q expiring %s (%d days left), want the CA in use, exchange root 2026, expiring %s", c.Subject, c.NotAfter, c.DaysLeft, newExpiry)
	}
	var out bytes.Buffer
	PrintStatus(&out, &Status{Now: now, Certificates: certs})
	if strings.Contains(out.String(), "EXPIRED") {
		t.Errorf("ferry status:\n%s", out.String())
	}

	c := caCheck("exchange.tls.ca_file", cfg.Exchange.TLS.CAFile, DoctorOptions{Now: now, ExpiryWarning: 30 * 24 * time.Hour})
	if c.Level != Warn || !strings.Contains(c.Detail, `"exchange root 2023" expired on`) || strings.Contains(c.Detail, "ask for a renewed certificate") {
		t.Errorf("doctor: %v %s", c.Level, c.Detail)
	}
}
