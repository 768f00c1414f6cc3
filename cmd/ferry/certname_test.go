package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
)

// TestCertExpiryWarningNamesCertificate: when the certificate that
// expires first in a cert_file is an intermediate after the client
// certificate, the daily warning names it: the file's first certificate,
// the one an operator looks at (openssl x509 shows only it), is valid for
// long after the date the warning gives.
func TestCertExpiryWarningNamesCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	var serial int64
	mint := func(cn string, notAfter time.Time, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		serial++
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: notAfter, IsCA: parent == nil || cn != "ferry client", BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
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
	root, rootKey := mint("exchange root", now.Add(10*365*24*time.Hour), nil, nil)
	inter, interKey := mint("exchange issuing CA", now.Add(12*24*time.Hour), root, rootKey)
	leaf, _ := mint("ferry client", now.Add(300*24*time.Hour), inter, interKey)
	var chain []byte
	for _, c := range []*x509.Certificate{leaf, inter} {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	certFile := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	cfg.Exchange.TLS.CertFile = certFile
	var logs bytes.Buffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info")}
	g.warnCertExpiry()
	out := logs.String()
	if !strings.Contains(out, `msg="certificate expires soon"`) || !strings.Contains(out, "exchange issuing CA") {
		t.Fatalf("the warning does not name the certificate that expires:\n%s", out)
	}
}
