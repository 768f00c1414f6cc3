package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"path/filepath"
	"testing"
)

// TestDoctorReportsGrantedScope: `ferry doctor` shows the scope the
// authorization server granted, which may be narrower than the one asked
// for (RFC 6749 §5.1: the answer names it when it differs), not the
// configured one; a token answer without scope granted what was asked.
func TestDoctorReportsGrantedScope(t *testing.T) {
	const narrower = "system/Patient.cru system/Bundle.c"
	t.Run("SMART", func(t *testing.T) {
		path, ex, a := newSMARTFixture(t)
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
		cfg := SMARTConfig{ClientID: a.clientID, KeyFile: path}
		if scope, _, err := CheckSMART(context.Background(), cfg, ex.url(), s.client); err != nil || scope != DefaultSMARTScope {
			t.Errorf("scope granted as asked: %q, %v", scope, err)
		}
		a.mu.Lock()
		a.grant = narrower
		a.mu.Unlock()
		if scope, _, err := CheckSMART(context.Background(), cfg, ex.url(), s.client); err != nil || scope != narrower {
			t.Errorf("narrower scope granted: doctor shows %q (%v), want %q", scope, err, narrower)
		}
	})
	t.Run("UDAP", func(t *testing.T) {
		ca := newTestCA(t, "community root")
		ex := newExchange(t, false)
		srv := newUDAPServer(t, ex, ca)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cfg := udapSetup(t, ca, key)
		regFile := filepath.Join(t.TempDir(), "udap", "client.json")
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
		if _, err := RegisterUDAP(context.Background(), cfg, ex.url(), s.client, regFile, nil); err != nil {
			t.Fatal(err)
		}
		if c, err := CheckUDAP(context.Background(), cfg, ex.url(), s.client, regFile); err != nil || c.Scope != DefaultSMARTScope {
			t.Errorf("no scope in the answer: %q, %v", c.Scope, err)
		}
		srv.mu.Lock()
		srv.grant = narrower
		srv.mu.Unlock()
		if c, err := CheckUDAP(context.Background(), cfg, ex.url(), s.client, regFile); err != nil || c.Scope != narrower {
			t.Errorf("narrower scope granted: doctor shows %q (%v), want %q", c.Scope, err, narrower)
		}
	})
}
