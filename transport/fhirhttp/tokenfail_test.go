package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"strings"
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
