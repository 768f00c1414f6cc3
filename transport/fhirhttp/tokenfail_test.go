package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/transport"
)

// TestTokenEndpointOutageNamed: when the token endpoint is down (503),
// the error and its summary name the token endpoint, not the exchange's
// FHIR base, and its Retry-After is honoured.
func TestTokenEndpointOutageNamed(t *testing.T) {
	s, _ := bearerExchange(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	}, answerOK(200))
	err := s.Send(context.Background(), item("01TOKDOWN"))
	if v := verdictOf(err); v != retry {
		t.Fatalf("token endpoint 503: %s (%v), want retry", v, err)
	}
	if !strings.Contains(err.Error(), "/auth/token") {
		t.Errorf("error %q does not name the token endpoint", err)
	}
	// The dispatcher logs the summary: it names the endpoint too.
	if sum := transport.Summary(err); !strings.Contains(sum, "/auth/token") {
		t.Errorf("summary %q does not name the token endpoint", sum)
	}
	if ra, ok := transport.RetryAfterOf(err); !ok || ra != 2*time.Minute {
		t.Errorf("Retry-After %v %v, want the token endpoint's 2m", ra, ok)
	}
}

// TestSMARTDiscoveryOutage: a SMART discovery document that cannot be had
// for now (503) is an outage, retried, and not shown as a configuration
// problem telling the operator to set token_url.
func TestSMARTDiscoveryOutage(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	path := writeKey(t, ec)
	ex := newExchange(t, false)
	ex.set(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: path}})
	err := s.Send(context.Background(), item("01DISC"))
	if v := verdictOf(err); v != retry {
		t.Fatalf("discovery 503: %s (%v), want retry", v, err)
	}
	if !strings.Contains(transport.Summary(err), "smart-configuration") {
		t.Errorf("summary %q does not name the discovery document", transport.Summary(err))
	}
}

// TestSMARTRediscovers: when the discovered token endpoint refuses (the
// exchange moved it and its discovery document names the new one), the
// next attempt reads the discovery document again, as UDAP does, rather
// than asking the old endpoint until ferry restarts.
func TestSMARTRediscovers(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	path := writeKey(t, ec)
	ex := newExchange(t, false)
	root := strings.TrimSuffix(ex.url(), "/fhir/R4")
	var mu sync.Mutex
	current := "/auth/token"
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cur := current
		mu.Unlock()
		switch {
		case r.URL.Path == "/fhir/R4/.well-known/smart-configuration":
			json.NewEncoder(w).Encode(map[string]any{"token_endpoint": root + cur})
		case r.URL.Path == cur:
			grantToken(w, r)
		case strings.HasPrefix(r.URL.Path, "/auth/"):
			w.WriteHeader(http.StatusNotFound)
		default:
			answerOK(200)(w, r)
		}
	})
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: path}})
	if err := s.Send(context.Background(), item("01MOVE1")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	current = "/auth/v2/token"
	mu.Unlock()
	s.mu.RLock()
	s.tokens.Invalidate("tok-1")
	s.mu.RUnlock()
	if err := s.Send(context.Background(), item("01MOVE2")); verdictOf(err) != endpoint {
		t.Fatalf("old token endpoint gone: %v, want an endpoint problem", err)
	}
	if err := s.Send(context.Background(), item("01MOVE3")); err != nil {
		t.Fatalf("after the exchange moved its token endpoint: %v", err)
	}
}
