package fhirhttp

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// TestVersionConflictNotCalledDuplicates: an entry with request.ifMatch
// (a bundle an EHR exported for the version it last read, passed through
// from a folder) that the exchange answers 412 was refused for its
// version: "If the version id given in the If-Match header does not
// match, the server returns a 412 Precondition Failed status code" (FHIR
// R4 http.html#concurrency). The dead letter told the contractor that
// several resources matched a conditional identifier, to merge duplicates
// at the exchange and retry, where there is none to merge and a retry of
// the same version is refused again; it says the resource changed since
// that version, whether the entry's 412 comes in the response Bundle or
// refuses the transaction whole naming the entry.
func TestVersionConflictNotCalledDuplicates(t *testing.T) {
	tx := &queue.Item{ID: "01VER", Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"resource":{"resourceType":"Practitioner"},"request":{"method":"PUT","url":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893"}},` +
		`{"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1","ifMatch":"W/\"3\""}}]}`)}
	const oo = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict","expression":["Bundle.entry[1]"]}]}`
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	for name, h := range map[string]struct {
		code int
		body string
	}{
		"entry":         {200, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"412 Precondition Failed","outcome":` + oo + `}}]}`},
		"refused whole": {412, oo},
	} {
		ex.set(canned(h.code, MediaType, h.body, nil))
		err := s.Send(context.Background(), tx)
		if !queue.IsPermanent(err) {
			t.Errorf("%s: %v, want a dead letter", name, err)
			continue
		}
		sum := transport.Summary(err)
		if strings.Contains(sum, "merge") || !strings.Contains(sum, "the Patient at the exchange has changed since the version the entry's ifMatch names") {
			t.Errorf("%s: reason %q", name, sum)
		}
	}
	// A 412 of the conditional entry is still the duplicates' one.
	ex.set(canned(200, MediaType, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"412 Precondition Failed"}},{"response":{"status":"200 OK"}}]}`, nil))
	if sum := transport.Summary(s.Send(context.Background(), tx)); !strings.Contains(sum, "several Practitioner resources at the exchange match") {
		t.Errorf("conditional entry: reason %q", sum)
	}
}
