package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configtls/tlstest"
	"github.com/ferry-health/ferry/config/pki"
)

// TestUDAPRegisterRenegotiates: `ferry udap-register` talks to the
// exchange as the gateway and `ferry doctor` do, so an exchange that
// asks for ferry's client certificate by a TLS 1.2 renegotiation once
// the request has come (IIS without "negotiate client certificate"),
// which the gateway and doctor accept, gets it from udap-register too.
// udap-register built its own TLS settings without accepting one, and
// failed with "tls: no renegotiation" before it could read the
// exchange's UDAP metadata, where the gateway would have registered.
func TestUDAPRegisterRenegotiates(t *testing.T) {
	dir := t.TempDir()
	put := func(t *testing.T, path, format string, args ...any) string {
		if err := os.WriteFile(path, []byte(fmt.Sprintf(format, args...)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	ex := tlstest.StartRenegotiator(t, p)

	// ferry's UDAP certificate (a URI SAN) and key; the community CA.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	uri, _ := url.Parse("https://clinic-12.example.org/ferry")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ferry"}, URIs: []*url.URL{uri},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := put(t, filepath.Join(dir, "udap.pem"), "%s", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile := put(t, filepath.Join(dir, "udap.key"), "%s", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	anchors := put(t, filepath.Join(dir, "anchors.pem"), "%s", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	cfg := put(t, filepath.Join(dir, "ferry.yaml"), `data_dir: %q
exchange:
  url: https://localhost:%s/fhir/R4
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  auth:
    udap: {cert_file: %q, key_file: %q, trust_anchors: %q, organization_id: "urn:oid:1.2.3", contacts: ["mailto:it@example.org"]}
`, filepath.Join(dir, "data"), strings.TrimPrefix(ex.Addr, "127.0.0.1:"), p.CA, p.ClientCert, p.ClientKey, cert, keyFile, anchors)

	errc := make(chan error, 1)
	go func() {
		errc <- cmdUDAPRegister(context.Background(), []string{"--config", cfg}, io.Discard, io.Discard)
	}()
	select {
	case <-ex.Seen("GET /fhir/R4/.well-known/udap"):
	case err := <-errc:
		t.Fatalf("udap-register ended before its request came: %v\n%s", err, ex.Output())
	case <-time.After(10 * time.Second):
		t.Fatalf("no request came:\n%s", ex.Output())
	}
	ex.AskCertificate()
	select {
	case <-ex.Seen("CN = ferry demo client"):
	case err := <-errc:
		t.Fatalf("the exchange asked for ferry's certificate after the handshake: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("no client certificate came:\n%s", ex.Output())
	}
	// The exchange offers no UDAP: what udap-register says once it has
	// read the answer.
	ex.Send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "does not offer UDAP here") {
			t.Fatalf("udap-register: %v, want the exchange's answer (404: no UDAP)\n%s", err, ex.Output())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("udap-register did not end:\n%s", ex.Output())
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "udap", "client.json")); err == nil {
		t.Error("a registration was stored without one")
	}
}
