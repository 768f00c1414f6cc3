package fhirhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/transport"
)

// TestTokenEndpointBusyByErrorCode: a token endpoint that says it is
// overloaded or in maintenance by its OAuth error code, temporarily_unavailable
// or server_error (RFC 6749 §4.1.2.1: "The authorization server is
// currently unable to handle the request due to a temporary overloading
// or maintenance of the server"), with 400 as §5.2 has error answers
// sent, is busy for now, as a 503 is: an outage retried after its
// Retry-After, not a refused client assertion shown as needing an
// operator to check client_id, key_file and the JWKS.
func TestTokenEndpointBusyByErrorCode(t *testing.T) {
	for _, code := range []string{"temporarily_unavailable", "server_error"} {
		t.Run(code, func(t *testing.T) {
			s, fetches := bearerExchange(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "90")
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "maintenance until 02:00"})
			}, answerOK(200))
			err := s.Send(context.Background(), item("01TOKBUSY"))
			if v := verdictOf(err); v != retry {
				t.Fatalf("token endpoint %s: %s (%v), want an outage retried", code, v, err)
			}
			if strings.Contains(err.Error(), "client assertion") || strings.Contains(err.Error(), "key_file") {
				t.Errorf("error %q sends the operator to the key", err)
			}
			if sum := transport.Summary(err); !strings.Contains(sum, "/auth/token") || !strings.Contains(sum, code) {
				t.Errorf("summary %q does not name the token endpoint and %s", sum, code)
			}
			if ra, ok := transport.RetryAfterOf(err); !ok || ra != 90*time.Second {
				t.Errorf("Retry-After %v %v, want the token endpoint's 90s", ra, ok)
			}
			if n := fetches.Load(); n != 1 {
				t.Errorf("%d token requests, want 1", n)
			}
		})
	}
}
