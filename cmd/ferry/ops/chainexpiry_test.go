package ops

import (
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

// TestDoctorChainExpiry: the intermediate that cert_file carries after the
// client certificate is sent with it, so when it expires first the
// exchange refuses the handshake as for an expired client certificate.
// The doctor warns about it, as the status and the daily warning do
// (they take the earliest expiry in the file), rather than calling the
// certificate fine because its leaf is.
func TestDoctorChainExpiry(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mint := func(cn string, ca bool, notAfter time.Time, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: notAfter, IsCA: ca, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
		if !ca {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key
	}
	pemOf := func(certs ...*x509.Certificate) []byte {
		var b []byte
		for _, c := range certs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return b
	}
	root, rootKey := mint("exchange root", true, now.Add(10*365*24*time.Hour), nil, nil)
	inter, interKey := mint("exchange issuing CA", true, now.Add(10*24*time.Hour), root, rootKey)
	leaf, leafKey := mint("ferry client", false, now.Add(300*24*time.Hour), inter, interKey)
	der, _ := x509.MarshalPKCS8PrivateKey(leafKey)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cfg.Exchange.TLS.CertFile = writeFile(t, dir, "client.pem", pemOf(leaf, inter))
	cfg.Exchange.TLS.KeyFile = writeFile(t, dir, "client.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	cfg.Exchange.TLS.CAFile = writeFile(t, dir, "ca.pem", pemOf(root))

	for _, cs := range ConfiguredCertificates(cfg, now) {
		if cs.File == cfg.Exchange.TLS.CertFile && (cs.DaysLeft < 9 || cs.DaysLeft > 10) {
			t.Errorf("status: %+v, want the intermediate's 10 days", cs)
		}
	}
	found := false
	for _, ch := range CheckCertificates(cfg, DoctorOptions{Now: now}) {
		if ch.Name != "exchange.tls.cert_file "+cfg.Exchange.TLS.CertFile {
			continue
		}
		found = true
		if ch.Level != Warn || !strings.Contains(ch.Detail, "exchange issuing CA") {
			t.Errorf("doctor: %s %s, want a warning naming the intermediate that expires in 10 days", ch.Level, ch.Detail)
		}
	}
	if !found {
		t.Fatal("no check of exchange.tls.cert_file")
	}
}
