package fhirhttp

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/transport"
)

// TestTemporaryTooLargeRetried: a 413 with Retry-After is the exchange
// saying that it cannot take the bundle for now (RFC 9110 §15.5.14: "If
// the condition is temporary, the server SHOULD generate a Retry-After
// header field to indicate that it is temporary and after what time the
// client MAY try again"), as when a tenant's storage quota is used up
// until a purge; it is retried after that time, not dead-lettered. A 413
// without one still is.
func TestTemporaryTooLargeRetried(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	const oo = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"too-costly","diagnostics":"storage quota reached"}]}`
	later := time.Now().Add(10 * time.Minute).UTC().Format(http.TimeFormat)
	for _, ra := range []string{"600", later} {
		ex.set(canned(http.StatusRequestEntityTooLarge, MediaType, oo, map[string]string{"Retry-After": ra}))
		err := s.Send(context.Background(), item("01QUOTA"))
		if verdictOf(err) != retry {
			t.Fatalf("413 with Retry-After %q: %v (%v), want retried", ra, verdictOf(err), err)
		}
		if d, _ := transport.RetryAfterOf(err); d < 9*time.Minute || d > 10*time.Minute {
			t.Errorf("413 with Retry-After %q: wait %v, want about 10m", ra, d)
		}
		if !strings.Contains(err.Error(), "413") {
			t.Errorf("413 with Retry-After %q: %v does not name the status", ra, err)
		}
	}
	for _, ra := range []string{"", "soon"} {
		hdr := map[string]string{}
		if ra != "" {
			hdr["Retry-After"] = ra
		}
		ex.set(canned(http.StatusRequestEntityTooLarge, MediaType, oo, hdr))
		if err := s.Send(context.Background(), item("01BIG")); verdictOf(err) != deadLetter || !strings.Contains(err.Error(), "larger than the exchange accepts") {
			t.Errorf("413 with Retry-After %q: %v (%v), want a dead letter", ra, verdictOf(err), err)
		}
	}
}
