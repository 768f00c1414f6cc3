package ops

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
)

// TestProxyCAExpiryWatched: proxy.ca_file, the CA of an https proxy every
// request to the exchange goes through, is watched like the exchange's
// CA: its expiry shows in the status (and so in the daily warning) and
// in the doctor's certificate checks. Once it expires no request gets
// past the proxy.
func TestProxyCAExpiryWatched(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "clinic proxy CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeFile(t, dir, "proxy-ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cfg.Proxy.URL = "https://proxy.clinic.local:3129"
	cfg.Proxy.CAFile = caFile

	listed := false
	for _, cs := range ConfiguredCertificates(cfg, now) {
		if cs.File == caFile {
			listed = true
			if cs.Error != "" || cs.DaysLeft < 9 || cs.DaysLeft > 10 {
				t.Errorf("proxy CA status: %+v", cs)
			}
		}
	}
	if !listed {
		t.Errorf("ConfiguredCertificates leaves out proxy.ca_file: %+v", ConfiguredCertificates(cfg, now))
	}
	checked := false
	for _, ch := range CheckCertificates(cfg, DoctorOptions{Now: now}) {
		if ch.Name == "proxy.ca_file "+caFile {
			checked = true
			if ch.Level != Warn {
				t.Errorf("proxy CA check: %+v", ch)
			}
		}
	}
	if !checked {
		t.Error("the doctor does not check proxy.ca_file's expiry")
	}
}
