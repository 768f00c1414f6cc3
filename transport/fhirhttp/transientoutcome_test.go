package fhirhttp

import (
	"context"
	"fmt"
	"testing"
)

// TestTransientOutcomeRetried: a FHIR server that refuses a bundle with an
// OperationOutcome whose errors are all of the transient family
// (transient, lock-error, no-store, exception, timeout, incomplete,
// throttled: FHIR R4 IssueType "transient": "the system receiving the
// message may be able to resubmit the same content once an underlying
// issue is resolved") says the bundle is fine and the server is not,
// whatever the status (a 400 from a server that throttles that way, an
// entry of a batch that lost a database lock). It was dead-lettered as
// a rejection of the content; it is now retried with backoff. An outcome
// that also names a content error still dead-letters.
func TestTransientOutcomeRetried(t *testing.T) {
	oo := func(codes ...string) string {
		s := `{"resourceType":"OperationOutcome","issue":[`
		for i, c := range codes {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf(`{"severity":"error","code":%q,"diagnostics":"try later"}`, c)
		}
		return s + `]}`
	}
	for _, tc := range []struct {
		name string
		code int
		body string
		want verdict
	}{
		{"400 throttled", 400, oo("throttled"), retry},
		{"400 transient", 400, oo("transient"), retry},
		{"400 timeout", 400, oo("timeout"), retry},
		{"403 lock-error", 403, oo("lock-error"), retry},
		{"400 no-store and throttled", 400, oo("no-store", "throttled"), retry},
		{"400 throttled and invalid", 400, oo("throttled", "invalid"), deadLetter},
		{"400 processing", 400, oo("processing"), deadLetter},
		{"422 invariant", 422, oo("invariant"), deadLetter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := newExchange(t, false)
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
			ex.set(canned(tc.code, MediaType, tc.body, nil))
			if err := s.Send(context.Background(), item("01TRANSIENT")); verdictOf(err) != tc.want {
				t.Errorf("%s, want %s: %v", verdictOf(err), tc.want, err)
			}
		})
	}
	t.Run("batch entry 400 lock-error", func(t *testing.T) {
		ex := newExchange(t, false)
		s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
		ex.set(canned(200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[`+
			`{"response":{"status":"201 Created"}},`+
			`{"response":{"status":"400 Bad Request","outcome":`+oo("lock-error")+`}}]}`, nil))
		if err := s.Send(context.Background(), bundleItem("01TRANSIENT", "batch", 2)); verdictOf(err) != retry {
			t.Errorf("%s, want retry: %v", verdictOf(err), err)
		}
	})
}
