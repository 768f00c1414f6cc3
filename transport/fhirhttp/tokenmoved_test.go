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
	"sync"
	"testing"

	"github.com/ferry-health/ferry/config/configtls/tlstest"
)

// TestTokenEndpointGoneRediscovers: when the exchange moves its token
// endpoint and the old one no longer answers as an authorization server
// (its host taken down: connections refused; or a load balancer in front
// of it answering 503), the next attempt reads the discovery document
// (SMART) or signed metadata (UDAP) again and asks the endpoint it names
// now. Only a refusal (a 4xx, an EndpointError) made ferry look again:
// it asked the old endpoint until it restarted, and the bundles waited,
// then were dead-lettered at retry.max_age, with the exchange up and its
// discovery document naming the new endpoint.
func TestTokenEndpointGoneRediscovers(t *testing.T) {
	t.Run("SMART, old host down", func(t *testing.T) {
		ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		path := writeKey(t, ec)
		ex := newExchange(t, false)
		root := strings.TrimSuffix(ex.url(), "/fhir/R4")
		// The old token endpoint, on a host of its own.
		old := tlstest.NewUnstartedServer(t, ex.pki, http.HandlerFunc(grantToken))
		old.StartTLS()
		oldURL := strings.Replace(old.URL, "127.0.0.1", "localhost", 1) + "/oauth/token"
		var mu sync.Mutex
		current := oldURL
		ex.set(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			cur := current
			mu.Unlock()
			switch r.URL.Path {
			case "/fhir/R4/.well-known/smart-configuration":
				json.NewEncoder(w).Encode(map[string]any{"token_endpoint": cur})
			case "/auth/token":
				grantToken(w, r)
			default:
				answerOK(200)(w, r)
			}
		})
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: path}})
		if err := s.Send(context.Background(), item("01GONE1")); err != nil {
			t.Fatal(err)
		}
		old.Close()
		mu.Lock()
		current = root + "/auth/token"
		mu.Unlock()
		s.mu.RLock()
		s.tokens.Invalidate("tok-1")
		s.mu.RUnlock()
		if err := s.Send(context.Background(), item("01GONE2")); verdictOf(err) != retry {
			t.Fatalf("old token endpoint down: %v, want a retry", err)
		}
		if err := s.Send(context.Background(), item("01GONE3")); err != nil {
			t.Fatalf("after the exchange moved its token endpoint: %v", err)
		}
	})

	t.Run("UDAP, old endpoint 503", func(t *testing.T) {
		ca := newTestCA(t, "community root")
		ex := newExchange(t, false)
		srv := newUDAPServer(t, ex, ca)
		ex.mu.Lock()
		inner := ex.handler
		ex.mu.Unlock()
		var mu sync.Mutex
		moved := false
		ex.set(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			m := moved
			mu.Unlock()
			switch {
			case m && r.URL.Path == "/auth/token":
				w.WriteHeader(http.StatusServiceUnavailable) // nothing behind the balancer
			case m && r.URL.Path == "/auth/v2/token":
				r.URL.Path = "/auth/token"
				inner(w, r)
			default:
				inner(w, r)
			}
		})
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		cfg := udapSetup(t, ca, key)
		regFile := filepath.Join(t.TempDir(), "udap", "client.json")
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
		if err := s.Send(context.Background(), item("01UGONE1")); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		moved = true
		mu.Unlock()
		srv.mu.Lock()
		srv.tokenURL = strings.TrimSuffix(srv.tokenURL, "/auth/token") + "/auth/v2/token"
		srv.plainToken = srv.tokenURL
		srv.revoked["udap-tok-1"] = true
		srv.mu.Unlock()
		if err := s.Send(context.Background(), item("01UGONE2")); verdictOf(err) != retry {
			t.Fatalf("old token endpoint 503: %v, want a retry", err)
		}
		if err := s.Send(context.Background(), item("01UGONE3")); err != nil {
			t.Fatalf("after the exchange moved its token endpoint: %v", err)
		}
		if r, _ := srv.counts(); r != 1 {
			t.Errorf("%d registrations, want the one (the stored client id is kept)", r)
		}
	})
}
