package fhirhttp

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// TestPreconditionFailedWholeNamesEntryType: a transaction refused whole
// with 412 (FHIR R4 http.html, conditional update: "Multiple matches: The
// server returns a 412 Precondition Failed error") whose OperationOutcome
// names the entry in the expression (Bundle.entry[1].request.url)
// said "several resources ... match a conditional identifier of the
// bundle (a Patient's, a Practitioner's, an Organization's…)", though
// README promises the reason names their type when the answer says which
// entry, as it does for Medplum's 400; it names the Practitioner.
func TestPreconditionFailedWholeNamesEntryType(t *testing.T) {
	tx := &queue.Item{ID: "01TX", Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient?identifier=urn:oid:1.2.3|M1"}},` +
		`{"resource":{"resourceType":"Practitioner"},"request":{"method":"PUT","url":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893"}}]}`)}
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	ex.set(canned(412, MediaType, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"multiple-matches","diagnostics":"2 resources match","expression":["Bundle.entry[1].request.url"]}]}`, nil))
	err := s.Send(context.Background(), tx)
	if !queue.IsPermanent(err) {
		t.Fatalf("%v, want a dead letter", err)
	}
	const want = "several Practitioner resources at the exchange match the conditional identifier: merge or remove the duplicates there, then run `ferry queue retry 01TX`"
	if sum := transport.Summary(err); !strings.Contains(sum, want) {
		t.Errorf("reason %q, want %q", sum, want)
	}
}
