package fhirhttp

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestEndlessAnswerIsBounded: a 2xx answer is read only as far as it can
// still be a proper response Bundle. An endpoint that streams without end
// (a server-sent event stream or a long-poll page behind a wrong
// exchange.url, a broken proxy, an exchange echoing entries in a loop)
// kept the worker reading until the request Timeout, and for a body
// streamed from a file (a large fax), whose watchdog counts each read of
// the answer as progress, for ever; what it read of JSON entries was kept
// per entry. Such an answer now ends the attempt as an endpoint problem,
// without reading it all.
func TestEndlessAnswerIsBounded(t *testing.T) {
	const limit = maxAnswerBytes + 16<<20 // the test server stops there
	cases := []struct {
		name, ct, head, chunk, inErr string
	}{
		{"event stream", "text/event-stream", "", ": keep-alive\n\n", "text/event-stream page"},
		{"json entries", MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[`, `{"response":{"status":"201 Created"}},`, "more entries than the 1 sent"},
		{"json blanks", MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}}]`, "\n", "was not read to its end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := newExchange(t, false)
			var wrote atomic.Int64
			ex.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ct)
				w.WriteHeader(http.StatusOK)
				w.Write([]byte(c.head))
				chunk := []byte(strings.Repeat(c.chunk, (32<<10)/len(c.chunk)))
				for wrote.Load() < limit {
					n, err := w.Write(chunk)
					wrote.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
			s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS(), Timeout: time.Minute})
			it := fileItem(t, "endless", item("endless").Body)
			err := s.Send(context.Background(), it)
			if verdictOf(err) != endpoint || !strings.Contains(err.Error(), c.inErr) {
				t.Fatalf("Send: %v (%s), want an endpoint problem", err, verdictOf(err))
			}
			if n := wrote.Load(); n >= limit {
				t.Fatalf("ferry read the whole %d bytes of an answer that could not be a transaction-response", n)
			}
		})
	}
}
