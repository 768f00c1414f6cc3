package fhirhttp

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ferry-health/ferry/transport"
)

// TestRetryAfterDateReadOnTheExchangesClock: Retry-After may be an
// HTTP-date (RFC 9110 §10.2.3), a time on the exchange's clock, which it
// states in the answer's Date (§6.6.1). It was read against the clinic
// computer's clock: one running ten minutes fast took "in two minutes"
// for a time gone and sent again at once, into the exchange that asked
// to be left alone. The wait is now the Retry-After date less the
// answer's Date.
func TestRetryAfterDateReadOnTheExchangesClock(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	exchangeNow := time.Now().Add(-10 * time.Minute) // the clinic's clock is ten minutes fast
	ex.set(canned(http.StatusServiceUnavailable, "", "", map[string]string{
		"Date":        exchangeNow.UTC().Format(http.TimeFormat),
		"Retry-After": exchangeNow.Add(2 * time.Minute).UTC().Format(http.TimeFormat),
	}))
	err := s.Send(context.Background(), item("01LATER"))
	ra, ok := transport.RetryAfterOf(err)
	if !ok || ra < time.Minute || ra > 2*time.Minute {
		t.Errorf("%v: waits %v, want the two minutes the exchange asked for", err, ra)
	}
}
