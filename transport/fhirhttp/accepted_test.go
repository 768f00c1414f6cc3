package fhirhttp

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestAcceptedIsNotDelivered: 202 Accepted says that "the request has
// been accepted for processing, but the processing has not been
// completed. The request might or might not eventually be acted upon, as
// it might be disallowed when processing actually takes place" (RFC 9110
// §15.3.3), so it is no proof that the exchange stored the bundle, even
// with a transaction-response whose entries look done: the bundle stays
// queued as an endpoint problem, as README and a create's 202 have it.
func TestAcceptedIsNotDelivered(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	for _, body := range []string{
		txResponse,
		`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"202 Accepted"}}]}`,
	} {
		ex.set(canned(http.StatusAccepted, MediaType, body, map[string]string{"Content-Location": ex.url() + "/_async/1"}))
		err := s.Send(context.Background(), item("01ASYNC"))
		if verdictOf(err) != endpoint || !strings.Contains(err.Error(), "202") {
			t.Errorf("202 with %s: %v (%v), want an endpoint problem naming the 202", body, verdictOf(err), err)
		}
	}
	// Another 2xx with the transaction-response is still delivered.
	ex.set(canned(http.StatusOK, MediaType, txResponse, nil))
	if err := s.Send(context.Background(), item("01SYNC")); err != nil {
		t.Fatalf("200: %v", err)
	}
}
