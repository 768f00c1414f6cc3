package fhirhttp

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// TestProxyGaveUpOnOriginIsAnUnknownOutcome: a CDN or proxy in front of
// the exchange answers 524 (Cloudflare's "A Timeout Occurred": it had
// the request through to the exchange and no answer came in time) or 520
// (the exchange's answer was empty or broken, as when it closed the
// connection mid-request). Like a 504, that says nothing about whether
// the exchange applied the bundle, and it may still be committing it;
// but it was retried after the ordinary backoff, a second later, racing
// the first attempt. It is now an unknown outcome, which the dispatcher
// waits UnknownOutcomeDelay after.
func TestProxyGaveUpOnOriginIsAnUnknownOutcome(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	for _, code := range []int{520, 524} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			ex.set(canned(code, "text/html", "<html><body><h1>Error "+fmt.Sprint(code)+"</h1></body></html>", nil))
			err := s.Send(context.Background(), item("01ORIGIN"))
			if err == nil || queue.IsPermanent(err) {
				t.Fatalf("%v, want a retry", err)
			}
			var ou transport.OutcomeUnknowner
			if !errors.As(err, &ou) || !ou.OutcomeUnknown() {
				t.Errorf("%v: not an unknown outcome, so it is sent again without waiting for the first attempt", err)
			}
		})
	}
}
