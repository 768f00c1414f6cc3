package fhirhttp

import (
	"context"
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
