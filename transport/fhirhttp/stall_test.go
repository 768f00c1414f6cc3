package fhirhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// TestStalledStreamIsATimeout: when the exchange has taken a streamed
// body (a large fax) and then goes quiet, before its answer or in the
// middle of it, the watchdog ends the request, and the error must read
// as the timeout it is (context.DeadlineExceeded), like the Timeout of an
// in-memory body: the dispatcher then waits UnknownOutcomeDelay before
// sending the bundle again, since the exchange may still be committing
// it. A bare "no progress" error was taken for an answer and re-sent
// after the ordinary backoff (a second or so), racing the first attempt.
func TestStalledStreamIsATimeout(t *testing.T) {
	ex := newExchange(t, false)
	release := make(chan struct{})
	defer close(release)
	ex.set(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Request-Id") == "midanswer" {
			w.Header().Set("Content-Type", MediaType)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[`)
			w.(http.Flusher).Flush()
		}
		select { // the body was read whole (newExchange reads it); no answer follows
		case <-r.Context().Done():
		case <-release:
		}
	})
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), Timeout: 300 * time.Millisecond})
	for _, id := range []string{"noanswer", "midanswer"} {
		it := item(id)
		it = fileItem(t, id, it.Body)
		err := s.Send(context.Background(), it)
		if err == nil || queue.IsPermanent(err) {
			t.Fatalf("%s: %v, want a retryable error", id, err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v does not read as a timeout (outcome unknown)", id, err)
		}
	}
}
