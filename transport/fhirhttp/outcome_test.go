package fhirhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// TestRejectionCarriesWholeOutcome: a 422 with an OperationOutcome of 15
// issues is a permanent error whose Outcome is the receiver's body, byte
// for byte, while Error keeps its short extract (10 issues at most) and
// Summary none of the receiver's text.
func TestRejectionCarriesWholeOutcome(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	var issues []string
	for i := range 15 {
		issues = append(issues, fmt.Sprintf(`{"severity":"error","code":"invariant","diagnostics":"issue %02d: Patient.name for Jane Roe %s"}`, i, strings.Repeat("x", 200)))
	}
	outcome := `{"resourceType":"OperationOutcome","issue":[` + strings.Join(issues, ",") + `]}`
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write([]byte(outcome))
	})
	err := s.Send(context.Background(), item("01OUTCOME"))
	if !queue.IsPermanent(err) {
		t.Fatalf("422: %v, want a permanent error", err)
	}
	body, cut := queue.OutcomeOf(err)
	if string(body) != outcome || cut {
		t.Fatalf("Outcome = %d bytes (truncated %v), want the %d-byte body whole", len(body), cut, len(outcome))
	}
	if !json.Valid(body) || !strings.Contains(string(body), "issue 14") {
		t.Fatalf("Outcome is not the whole OperationOutcome")
	}
	if msg := err.Error(); strings.Contains(msg, "issue 14") || len(msg) > 1100 {
		t.Errorf("Error text is not the short extract (%d bytes)", len(msg))
	}
	if sum := transport.Summary(err); strings.Contains(sum, "Jane Roe") || strings.Contains(sum, "issue 00") {
		t.Errorf("Summary quotes the receiver: %q", sum)
	}

	// A retryable answer keeps no body: nothing is dead-lettered for it.
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(outcome))
	})
	err = s.Send(context.Background(), item("01RETRY"))
	if queue.IsPermanent(err) {
		t.Fatalf("503 is permanent: %v", err)
	}
	if body, _ := queue.OutcomeOf(err); body != nil {
		t.Errorf("503 carries %d bytes of outcome", len(body))
	}
}

// TestRejectionOutcomeCapped: an answer larger than queue.MaxOutcomeBytes
// is kept up to the cap, cut on a UTF-8 boundary, and marked truncated.
func TestRejectionOutcomeCapped(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	huge := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"` +
		strings.Repeat("é", queue.MaxOutcomeBytes) + `"}]}`
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(huge))
	})
	err := s.Send(context.Background(), item("01HUGE"))
	body, cut := queue.OutcomeOf(err)
	if !cut || len(body) > queue.MaxOutcomeBytes || len(body) < queue.MaxOutcomeBytes-1 || !strings.HasPrefix(huge, string(body)) {
		t.Fatalf("Outcome = %d bytes (truncated %v), want a prefix of at most %d, truncated", len(body), cut, queue.MaxOutcomeBytes)
	}
	if !strings.HasSuffix(string(body), "é") {
		t.Errorf("cut inside a UTF-8 sequence")
	}

	// A failed entry of a transaction-response keeps that entry's outcome.
	entryOutcome := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"entry 1 bad code"}]}`
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		w.Write([]byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"422 Unprocessable Entity","outcome":` + entryOutcome + `}}]}`))
	})
	err = s.Send(context.Background(), bundleItem("01ENTRY", "transaction", 2))
	var se *StatusError
	if !errors.As(err, &se) || se.Entry != 1 {
		t.Fatalf("entry failure: %v", err)
	}
	if body, _ := queue.OutcomeOf(err); string(body) != entryOutcome {
		t.Fatalf("entry Outcome = %s", body)
	}
}
