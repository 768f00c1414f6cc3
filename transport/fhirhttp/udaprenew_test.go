package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestUDAPRenewedCertificate: a UDAP certificate renewed on disk (as the
// daily warning and ferry status ask, before it expires) signs the next
// token request without a restart, as a renewed TLS certificate is used
// from the next handshake ("ferry reads a renewed certificate and key at
// the next connection"). The gateway read cert_file and key_file once,
// when it connected, and signed with the old certificate until it was
// restarted: once the old one expired every token request was refused,
// and delivery stopped with the renewed certificate in place. A renewal
// half done (the certificate copied, not yet its key) keeps the pair in
// use.
func TestUDAPRenewedCertificate(t *testing.T) {
	ca := newTestCA(t, "community root")
	ex := newExchange(t, false)
	srv := newUDAPServer(t, ex, ca)
	ex.mu.Lock()
	inner := ex.handler
	ex.mu.Unlock()
	// The exchange refuses a certificate past its end; the test says
	// which one that is.
	var mu sync.Mutex
	var expired *x509.Certificate
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/token" {
			ex.mu.Lock()
			body := ex.bodies[len(ex.bodies)-1]
			ex.mu.Unlock()
			form, _ := url.ParseQuery(body)
			tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Errorf("client assertion: %v", err)
				oauthFail(w, "invalid_client")
				return
			}
			certs, _ := tok.Headers[0].Certificates(x509.VerifyOptions{Roots: ca.pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			mu.Lock()
			old := expired
			mu.Unlock()
			if len(certs) == 0 || old != nil && certs[0][0].Equal(old) {
				oauthFail(w, "invalid_client")
				return
			}
		}
		inner(w, r)
	})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := udapSetup(t, ca, key)
	oldCert, err := readCertificates(cfg.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	regFile := filepath.Join(t.TempDir(), "udap", "client.json")
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
	if err := s.Send(context.Background(), item("01RENEW0")); err != nil {
		t.Fatal(err)
	}
	newToken := func() {
		srv.mu.Lock()
		for tok := range srv.tokens {
			srv.revoked[tok] = true
		}
		srv.mu.Unlock()
	}

	// The renewal: a new key and a certificate for it, same URI. The
	// certificate is copied first.
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	renewed := ca.issue(t, "ferry clinic 12", clientURIValue, newKey)
	if err := os.WriteFile(cfg.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: renewed.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	newToken()
	if err := s.Send(context.Background(), item("01RENEW1")); err != nil {
		t.Fatalf("certificate renewed, key not yet: %v, want the loaded pair kept", err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(newKey)
	if err := os.WriteFile(cfg.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The old certificate ends.
	mu.Lock()
	expired = oldCert[0]
	mu.Unlock()
	newToken()
	if err := s.Send(context.Background(), item("01RENEW2")); err != nil {
		t.Fatalf("after the certificate was renewed on disk: %v", err)
	}
	if r, _ := srv.counts(); r != 1 {
		t.Errorf("%d registrations, want 1: the same URI keeps its registration", r)
	}
}
