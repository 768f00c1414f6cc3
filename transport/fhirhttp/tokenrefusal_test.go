package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenRefusalNamesWhatToFix: a token endpoint refusing the scope
// ferry asks for (RFC 6749 §5.2 invalid_scope: a SMART v1 server given
// the default system/*.crus, or a scope the exchange does not grant this
// client) is told as that, naming the scope asked for and the field that
// sets it; one not letting the client use client_credentials
// (unauthorized_client, unsupported_grant_type) says so. Every refusal
// read "refused ferry's client assertion; check client_id, key_file and
// the JWKS registered", sending the contractor to a key that was not at
// fault. A refused assertion (invalid_client) still names the key.
func TestTokenRefusalNamesWhatToFix(t *testing.T) {
	refuse := func(code string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "no"})
		}
	}
	for _, tc := range []struct {
		code     string
		want     []string
		dontWant []string
	}{
		{"invalid_scope", []string{"invalid_scope", `"system/*.crus"`, "exchange.auth.smart.scope", "system/*.write"}, []string{"key_file", "assertion"}},
		{"unauthorized_client", []string{"unauthorized_client", "client_credentials"}, []string{"key_file"}},
		{"unsupported_grant_type", []string{"unsupported_grant_type", "client_credentials"}, []string{"key_file"}},
		{"invalid_client", []string{"invalid_client", "client assertion", "key_file"}, nil},
	} {
		t.Run(tc.code, func(t *testing.T) {
			s, _ := bearerExchange(t, refuse(tc.code), answerOK(200))
			err := s.Send(context.Background(), item("01REFUSED"))
			if verdictOf(err) != endpoint {
				t.Fatalf("%s: %v, want an endpoint problem", tc.code, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q does not say %q", tc.code, err, w)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q says %q", tc.code, err, w)
				}
			}
		})
	}

	t.Run("UDAP invalid_scope", func(t *testing.T) {
		ca := newTestCA(t, "community root")
		ex := newExchange(t, false)
		newUDAPServer(t, ex, ca)
		ex.mu.Lock()
		inner := ex.handler
		ex.mu.Unlock()
		ex.set(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/auth/token" {
				refuse("invalid_scope")(w, r)
				return
			}
			inner(w, r)
		})
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cfg := udapSetup(t, ca, key)
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: filepath.Join(t.TempDir(), "client.json")})
		err := s.Send(context.Background(), item("01UREFUSED"))
		if verdictOf(err) != endpoint || !strings.Contains(err.Error(), "exchange.auth.udap.scope") || !strings.Contains(err.Error(), `"system/*.crus"`) {
			t.Fatalf("UDAP invalid_scope: %v, want an endpoint problem naming the scope and exchange.auth.udap.scope", err)
		}
	})
}
