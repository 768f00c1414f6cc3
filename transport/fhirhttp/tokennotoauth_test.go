package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenEndpointNotOAuth: a token URL that is not the authorization
// server's token endpoint (a token_url with a wrong path, one the
// exchange moved to a redirect, a web front end) answers 404, 405 or a
// redirect with a web page, not the OAuth error an authorization server
// answers with (RFC 6749 §5.2: 400, or 401 for invalid_client, with an
// "error" code). ferry said it "refused ferry's client assertion" and
// sent the contractor to check client_id, key_file and the JWKS, none
// at fault; it now says the URL did not answer as a token endpoint and
// names the setting or document the URL comes from. An OAuth refusal
// still names the assertion.
func TestTokenEndpointNotOAuth(t *testing.T) {
	page := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if code == http.StatusFound {
				w.Header().Set("Location", "https://sso.example.org/login")
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			io.WriteString(w, "<html><body>Not here</body></html>")
		}
	}
	for _, tc := range []struct {
		name       string
		configured bool // token_url set, else discovered
		answer     http.HandlerFunc
		want       []string
	}{
		{"404, token_url", true, page(http.StatusNotFound), []string{"404", "exchange.auth.smart.token_url", "not as an OAuth token endpoint"}},
		{"405, discovered", false, page(http.StatusMethodNotAllowed), []string{"405", "/.well-known/smart-configuration", "not as an OAuth token endpoint"}},
		{"302, token_url", true, page(http.StatusFound), []string{"302", "https://sso.example.org/login", "exchange.auth.smart.token_url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			path := writeKey(t, ec)
			ex := newExchange(t, false)
			tokenURL := strings.TrimSuffix(ex.url(), "/fhir/R4") + "/auth/token"
			ex.set(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/fhir/R4/.well-known/smart-configuration":
					json.NewEncoder(w).Encode(map[string]any{"token_endpoint": tokenURL})
				case "/auth/token":
					tc.answer(w, r)
				default:
					answerOK(200)(w, r)
				}
			})
			cfg := SMARTConfig{ClientID: "ferry-1", KeyFile: path}
			if tc.configured {
				cfg.TokenURL = tokenURL
			}
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: cfg})
			err := s.Send(context.Background(), item("01NOTOAUTH"))
			if verdictOf(err) != endpoint {
				t.Fatalf("%v, want an endpoint problem", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			for _, w := range []string{"key_file", "refused ferry's client assertion"} {
				if strings.Contains(err.Error(), w) {
					t.Errorf("%q says %q", err, w)
				}
			}
		})
	}

	for _, path := range []string{"/auth/register", "/auth/token"} {
		t.Run("UDAP 404 at "+path, func(t *testing.T) {
			ca := newTestCA(t, "community root")
			ex := newExchange(t, false)
			newUDAPServer(t, ex, ca)
			ex.mu.Lock()
			inner := ex.handler
			ex.mu.Unlock()
			ex.set(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == path {
					page(http.StatusNotFound)(w, r)
					return
				}
				inner(w, r)
			})
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			cfg := udapSetup(t, ca, key)
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: filepath.Join(t.TempDir(), "client.json")})
			err := s.Send(context.Background(), item("01UNOTOAUTH"))
			if verdictOf(err) != endpoint {
				t.Fatalf("%v, want an endpoint problem", err)
			}
			for _, w := range []string{"404", "signed UDAP metadata", "not as an OAuth"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			for _, w := range []string{"cert_file", "refused ferry's"} {
				if strings.Contains(err.Error(), w) {
					t.Errorf("%q says %q", err, w)
				}
			}
		})
	}
}

// TestTokenEndpointBusy: a token endpoint, or the load balancer in front
// of it, answering 408 Request Timeout or 425 Too Early is busy, as it
// is with 429 or 503 (RFC 9110 §15.5.9: the client "MAY repeat that
// request"): an outage retried with backoff, not a setting for an
// operator to fix. It was reported as a refused client assertion, and
// shown as needing an operator.
func TestTokenEndpointBusy(t *testing.T) {
	for _, code := range []int{http.StatusRequestTimeout, http.StatusTooEarly} {
		s, _ := bearerExchange(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			io.WriteString(w, "<html>Request Timeout</html>")
		}, answerOK(200))
		err := s.Send(context.Background(), item("01BUSY"))
		if v := verdictOf(err); v != retry {
			t.Errorf("token endpoint %d: %s (%v), want an outage retried", code, v, err)
		}
	}
}
