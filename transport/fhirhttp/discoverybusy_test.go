package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
)

// TestDiscoveryBusy: SMART discovery, the UDAP metadata and the UDAP
// registration endpoint, or the load balancer in front of them,
// answering 408 Request Timeout or 425 Too Early are busy, as with 429
// or 503 (RFC 9110 §15.5.9: the client "MAY repeat that request"), as
// the exchange's own answers and the token endpoint's count them: an
// outage retried with backoff. They were shown as a setting for an
// operator to fix ("set exchange.auth.smart.token_url").
func TestDiscoveryBusy(t *testing.T) {
	busy := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			io.WriteString(w, "<html>"+http.StatusText(code)+"</html>")
		}
	}
	for _, code := range []int{http.StatusRequestTimeout, http.StatusTooEarly} {
		t.Run(fmt.Sprintf("SMART discovery %d", code), func(t *testing.T) {
			ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			ex := newExchange(t, false)
			ex.set(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/fhir/R4/.well-known/smart-configuration" {
					busy(code)(w, r)
					return
				}
				answerOK(200)(w, r)
			})
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: writeKey(t, ec)}})
			if err := s.Send(context.Background(), item("01BUSY")); verdictOf(err) != retry {
				t.Errorf("%s, want an outage retried: %v", verdictOf(err), err)
			}
		})
		for _, path := range []string{"/fhir/R4/.well-known/udap", "/auth/register"} {
			t.Run(fmt.Sprintf("UDAP %s %d", path, code), func(t *testing.T) {
				ca := newTestCA(t, "community root")
				ex := newExchange(t, false)
				newUDAPServer(t, ex, ca)
				ex.mu.Lock()
				inner := ex.handler
				ex.mu.Unlock()
				ex.set(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == path {
						busy(code)(w, r)
						return
					}
					inner(w, r)
				})
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: udapSetup(t, ca, key), UDAPRegistrationFile: filepath.Join(t.TempDir(), "client.json")})
				if err := s.Send(context.Background(), item("01UBUSY")); verdictOf(err) != retry {
					t.Errorf("%s, want an outage retried: %v", verdictOf(err), err)
				}
			})
		}
	}
}
