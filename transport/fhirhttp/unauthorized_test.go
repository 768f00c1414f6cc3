package fhirhttp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/transport"
)

// TestUnauthorizedSaysWhichCredential: a 401 keeps the bundle queued as
// an endpoint problem, and its reason points at the credential the
// exchange refused. An exchange that asks for an OAuth access token
// (WWW-Authenticate: Bearer, RFC 6750 §3) from a gateway configured with
// mutual TLS alone wants exchange.auth.smart or udap set; one that
// refuses ferry's token, a fresh one too (one retry), wants the client's
// registration checked. Both were told to "check the client
// certificate", which the TLS handshake had just accepted.
func TestUnauthorizedSaysWhichCredential(t *testing.T) {
	t.Run("no token configured", func(t *testing.T) {
		ex := newExchange(t, false)
		ex.set(canned(http.StatusUnauthorized, MediaType, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}`,
			map[string]string{"WWW-Authenticate": `Bearer realm="hie"`}))
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
		err := s.Send(context.Background(), item("01NOTOKEN"))
		if verdictOf(err) != endpoint {
			t.Fatalf("401: %v (%s), want an endpoint problem", err, verdictOf(err))
		}
		if sum := transport.Summary(err); !strings.Contains(sum, "access token") || !strings.Contains(sum, "exchange.auth.smart") || strings.Contains(sum, "client certificate") {
			t.Errorf("reason %q does not say the exchange asks for an access token", sum)
		}
	})
	t.Run("token refused", func(t *testing.T) {
		var posts atomic.Int64
		s, fetches := bearerExchange(t, grantToken, func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer realm="hie", error="invalid_token", error_description="audience Jane"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "no")
		})
		err := s.Send(context.Background(), item("01BADTOKEN"))
		if verdictOf(err) != endpoint {
			t.Fatalf("401: %v (%s), want an endpoint problem", err, verdictOf(err))
		}
		if posts.Load() != 2 || fetches.Load() != 2 {
			t.Errorf("%d posts with %d tokens, want one retry with a fresh token", posts.Load(), fetches.Load())
		}
		sum := transport.Summary(err)
		if !strings.Contains(sum, "refused ferry's access token") || !strings.Contains(sum, "invalid_token") || strings.Contains(sum, "client certificate") || strings.Contains(sum, "Jane") {
			t.Errorf("reason %q does not say the token was refused (without the server's free text)", sum)
		}
	})
}
