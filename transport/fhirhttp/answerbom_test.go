package fhirhttp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// TestAnswerWithByteOrderMark checks that an exchange's answer that
// starts with a UTF-8 byte-order mark, as some .NET servers write it, is
// read as the JSON behind it (RFC 8259 §8.1: parsers "MAY ignore the
// presence of a byte order mark rather than treating it as an error"): a
// transaction-response so written is a delivery, not a non-JSON page that
// sends the committed bundle again and again, and an OperationOutcome so
// written is a rejection, not an endpoint problem.
func TestAnswerWithByteOrderMark(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	answer := func(code int, body string) {
		ex.set(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", MediaType+"; charset=utf-8")
			w.WriteHeader(code)
			io.WriteString(w, "\uFEFF"+body)
		})
	}

	answer(http.StatusOK, txResponse)
	if err := s.Send(context.Background(), item("01BOM")); err != nil {
		t.Fatalf("a transaction-response behind a byte-order mark: %v; want delivered", err)
	}

	answer(http.StatusCreated, `{"resourceType":"DocumentReference","status":"current"}`)
	create := &queue.Item{ID: "01BOMC", Body: []byte(`{"resourceType":"DocumentReference","status":"current"}`), Attrs: map[string]string{queue.AttrCreate: "DocumentReference"}}
	if err := s.Send(context.Background(), create); err != nil {
		t.Fatalf("a created resource behind a byte-order mark: %v; want delivered", err)
	}

	outcome := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"required","diagnostics":"Patient.name: minimum required = 1"}]}`
	answer(http.StatusBadRequest, outcome)
	err := s.Send(context.Background(), item("01BOM4"))
	if !queue.IsPermanent(err) || IsEndpointProblem(err) || !strings.Contains(err.Error(), "minimum required") {
		t.Fatalf("a 400 OperationOutcome behind a byte-order mark: %v; want a dead letter with its issue", err)
	}
	if b, _ := queue.OutcomeOf(err); !strings.HasPrefix(string(b), `{"resourceType":"OperationOutcome"`) {
		t.Errorf("dead letter outcome %q, want the OperationOutcome", b)
	}

	transient := `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"lock-error"}]}`
	answer(http.StatusBadRequest, transient)
	if err := s.Send(context.Background(), item("01BOMT")); err == nil || queue.IsPermanent(err) || IsEndpointProblem(err) {
		t.Fatalf("a transient OperationOutcome behind a byte-order mark: %v; want retried as the exchange's own answer", err)
	}

	// Only at the start: a mark anywhere else, or half of one, is no JSON.
	for _, body := range []string{" \uFEFF" + txResponse, "\xEF\xBB" + txResponse} {
		ex.set(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", MediaType)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, body)
		})
		if err := s.Send(context.Background(), item("01BOMX")); !IsEndpointProblem(err) {
			t.Errorf("answer %q: %v; want an endpoint problem", body[:4], err)
		}
	}
}
