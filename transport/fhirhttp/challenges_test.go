package fhirhttp

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// TestBearerChallengeAmongOthers: RFC 9110 §11.6.1 lets one
// WWW-Authenticate field value hold several challenges ("the field value
// might contain more than one challenge, and each challenge can contain a
// comma-separated list of authentication parameters"), and §5.3 lets a
// proxy join the field lines into one so. A Bearer challenge after
// another scheme's (Basic realm="hie", Bearer error="insufficient_scope")
// was not read: the 403 it came with, with its OperationOutcome, was
// taken for the FHIR server's refusal of the bundle and dead-lettered,
// every bundle after it too, though the exchange refused ferry's token
// for its scope; and a 403 invalid_token so written got no fresh token.
// The challenge is now found wherever it stands in the field value.
func TestBearerChallengeAmongOthers(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{`Basic realm="hie", Bearer realm="hie", error="insufficient_scope", scope="system/*.c"`, "insufficient_scope"},
		{`Negotiate, Bearer error="invalid_token"`, "invalid_token"},
		{`DPoP algs="ES256 PS256", Bearer realm="hie", error="invalid_token"`, "invalid_token"},
		{`Bearer realm="hie", Basic realm="proxy", error="invalid_token"`, ""}, // Basic's parameter, not Bearer's
		{`Basic realm="a, Bearer error=\"invalid_token\""`, ""},                // inside a quoted string
		{`Bearer realm = "hie" , error = "insufficient_scope"`, "insufficient_scope"},
	} {
		h := http.Header{}
		h.Set("WWW-Authenticate", tc.header)
		if got := bearerError(h); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.header, got, tc.want)
		}
	}

	// The delivery: the 403 refuses ferry's token for its scope, and the
	// bundle waits as an endpoint problem rather than being dead-lettered.
	s, _ := bearerExchange(t, grantToken, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="hie", Bearer realm="hie", error="insufficient_scope"`)
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden"}]}`)
	})
	if v := verdictOf(s.Send(context.Background(), item("01CHAL"))); v != endpoint {
		t.Errorf("403 insufficient_scope after a Basic challenge: %s, want an endpoint problem", v)
	}
}
