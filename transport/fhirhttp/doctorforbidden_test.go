package fhirhttp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDoctorForbiddenInvalidToken: a FHIR server that refuses ferry's
// access token with 403 and WWW-Authenticate: Bearer error="invalid_token"
// (RFC 6750 §3.1 asks for 401 there; some servers answer 403) refuses
// every delivery so, which the gateway since 87fc0a2 takes for the 401 it
// stands for, yet `ferry doctor` passed the token as "taken by the
// exchange", taking the 403 for one of a scope that may not search. It
// now fails, as a 401 does.
func TestDoctorForbiddenInvalidToken(t *testing.T) {
	path, ex, a := newSMARTFixture(t)
	fhirAnswers(t, ex, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hie", error="invalid_token", error_description="token audience is another server"`)
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"security"}]}`)
		return true
	})
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	_, _, err := CheckSMART(context.Background(), SMARTConfig{ClientID: a.clientID, KeyFile: path}, ex.url(), s.client)
	if err == nil || !strings.Contains(err.Error(), "refused ferry's access token") || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "invalid_token") {
		t.Errorf("403 invalid_token: %v, want the FHIR server's refusal of the token", err)
	}
}
