package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// bearerExchange is an exchange behind a SMART authorization server whose
// token endpoint answers with tokenAnswer and whose FHIR base answers
// with fhirAnswer; it counts the token requests.
func bearerExchange(t *testing.T, tokenAnswer, fhirAnswer http.HandlerFunc) (*Sink, *atomic.Int64) {
	t.Helper()
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	path := writeKey(t, ec)
	ex := newExchange(t, false)
	tokenURL := strings.TrimSuffix(ex.url(), "/fhir/R4") + "/auth/token"
	var fetches atomic.Int64
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fhir/R4/.well-known/smart-configuration":
			json.NewEncoder(w).Encode(map[string]any{"token_endpoint": tokenURL})
		case "/auth/token":
			fetches.Add(1)
			tokenAnswer(w, r)
		default:
			fhirAnswer(w, r)
		}
	})
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), SMART: SMARTConfig{ClientID: "ferry-1", KeyFile: path}})
	return s, &fetches
}

func grantToken(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"access_token":"tok-1","token_type":"Bearer","expires_in":300,"scope":"system/*.cruds"}`)
}

// TestInsufficientScopeWaits: an exchange that refuses ferry's access
// token for its scope (RFC 6750 §3.1: 403 with WWW-Authenticate: Bearer
// error="insufficient_scope"), with an OperationOutcome as a FHIR server
// sends one, refuses ferry's authorization, not the bundle: the bundle
// waits as an endpoint problem instead of being dead-lettered.
func TestInsufficientScopeWaits(t *testing.T) {
	s, _ := bearerExchange(t, grantToken, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hie", error="insufficient_scope", scope="system/DocumentReference.c"`)
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":"Access denied by rule: scope"}]}`)
	})
	err := s.Send(context.Background(), item("01SCOPE"))
	if v := verdictOf(err); v != endpoint {
		t.Fatalf("403 insufficient_scope: %s (%v), want an endpoint problem", v, err)
	}
	if !strings.Contains(err.Error(), "scope") {
		t.Errorf("error %q does not say the token's scope is the problem", err)
	}
}

func TestBearerError(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{`Bearer realm="hie", error="insufficient_scope", scope="system/*.c"`, "insufficient_scope"},
		{`Bearer error_description="no, error=\"invalid_token\" here", error=insufficient_scope`, "insufficient_scope"},
		{`bearer error="invalid_token"`, "invalid_token"},
		{`Basic realm="proxy"`, ""},
		{`Bearer realm="hie"`, ""},
		{`Bearer`, ""},
	} {
		h := http.Header{}
		h.Set("WWW-Authenticate", tc.header)
		if got := bearerError(h); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.header, got, tc.want)
		}
	}
}
