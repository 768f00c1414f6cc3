package fhirhttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestForbiddenInvalidTokenRefreshes: an exchange that answers a token it
// no longer takes (expired early, revoked, signed with a key it rotated)
// with 403 and WWW-Authenticate: Bearer error="invalid_token", where RFC
// 6750 §3.1 says it "SHOULD respond with the HTTP 401", names ferry's
// access token, not the bundle, whatever OperationOutcome it adds: the
// bundle goes again with a fresh token, as after a 401, and if the exchange
// refuses that one too it waits as an endpoint problem rather than being
// dead-lettered.
func TestForbiddenInvalidTokenRefreshes(t *testing.T) {
	var n atomic.Int64
	grant := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":300,"scope":"system/*.cruds"}`, n.Add(1))
	}
	var refuseAll atomic.Bool
	s, fetches := bearerExchange(t, grant, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer tok-1" || refuseAll.Load() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hie", error="invalid_token", error_description="token expired"`)
			w.Header().Set("Content-Type", MediaType)
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":"Access denied"}]}`)
			return
		}
		answerOK(http.StatusOK)(w, r)
	})
	if err := s.Send(context.Background(), item("01TOK")); err != nil {
		t.Fatalf("403 invalid_token, then a fresh token: %v; want delivered", err)
	}
	if got := fetches.Load(); got != 2 {
		t.Errorf("%d token requests, want 2 (the refused token replaced once)", got)
	}

	refuseAll.Store(true)
	err := s.Send(context.Background(), item("01TOK2"))
	if v := verdictOf(err); v != endpoint || !strings.Contains(err.Error(), "access token (invalid_token)") {
		t.Fatalf("403 invalid_token for a fresh token too: %s (%v), want an endpoint problem about the token", v, err)
	}
}
