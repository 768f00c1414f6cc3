package fhirhttp

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// TestPreconditionFailedNamesTheType: a 412 (FHIR R4 http.html: a
// conditional create or update whose "criteria were not selective
// enough", several resources matching) is dead-lettered with the
// operator's next step, and that step names the kind of resource
// duplicated at the exchange: the document of an ITI-105 create, the
// Practitioner of a transaction's conditional update. It said "merge
// the duplicate patients" whatever matched twice, and the engineer
// looked for duplicates where there were none.
func TestPreconditionFailedNamesTheType(t *testing.T) {
	const oo = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"multiple-matches"}]}`
	tx := &queue.Item{ID: "01TX", Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:oid:1.2.3|M1"}},` +
		`{"resource":{"resourceType":"Practitioner"},"request":{"method":"PUT","url":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893"}}]}`)}
	cases := []struct {
		name     string
		it       *queue.Item
		code     int
		body     string
		want     string
		unwanted string
	}{
		{"create of a document", createItem("01DOC"), 412, oo, "several DocumentReference resources at the exchange match the conditional identifier: merge or remove the duplicates there, then run `ferry queue retry 01DOC`", "patients"},
		{"transaction entry", tx, 200, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"412 Precondition Failed","outcome":` + oo + `}}]}`, "transaction entry 1: exchange answered 412 Precondition Failed (issue multiple-matches) (several Practitioner resources at the exchange match", "patients"},
		{"transaction entry, a Patient", tx, 200, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"412 Precondition Failed","outcome":` + oo + `}},{"response":{"status":"200 OK"}}]}`, "merge the duplicate patients there, then run `ferry queue retry 01TX`", ""},
		{"transaction refused whole", tx, 412, oo, "several resources at the exchange match a conditional identifier of the bundle", "patients"},
	}
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	for _, c := range cases {
		ex.set(canned(c.code, MediaType, c.body, nil))
		err := s.Send(context.Background(), c.it)
		if !queue.IsPermanent(err) {
			t.Errorf("%s: %v, want a dead letter", c.name, err)
			continue
		}
		sum := transport.Summary(err)
		if !strings.Contains(sum, c.want) || c.unwanted != "" && strings.Contains(sum, c.unwanted) {
			t.Errorf("%s: reason %q, want %q", c.name, sum, c.want)
		}
	}
}

// TestMultipleMatchesRefusedWhole: a Medplum-based exchange refuses a
// transaction whose conditional update or patch finds several resources
// with 400 and "Conditional PUT matched multiple resources", naming the
// entry in the expression (Bundle.entry[1].request.url), not
// with FHIR's 412. The dead letter said "exchange answered 400 Bad
// Request (issue invalid)" alone, where README promises the 412's next
// step: which kind of resource is duplicated, merge, retry. It now gives
// that step, naming the type of the entry the exchange names; so for an
// entry of a batch refused so.
func TestMultipleMatchesRefusedWhole(t *testing.T) {
	tx := &queue.Item{ID: "01TX", Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient?identifier=urn:oid:1.2.3|M1"}},` +
		`{"resource":{"resourceType":"Practitioner"},"request":{"method":"PUT","url":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893"}}]}`)}
	oo := func(text, entry string) string {
		return `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"` + text + `"},"expression":["Bundle.entry[` + entry + `].request.url"]}]}`
	}
	cases := []struct {
		name, body, want, unwanted string
	}{
		{"a Practitioner", oo("Conditional PUT matched multiple resources", "1"), "several Practitioner resources at the exchange match the conditional identifier: merge or remove the duplicates there, then run `ferry queue retry 01TX`", "patients"},
		{"a Patient", oo("Conditional PUT matched multiple resources", "0"), "merge the duplicate patients there, then run `ferry queue retry 01TX`", ""},
		{"a patch", oo("Conditional PATCH matched multiple resources", "1"), "several Practitioner resources at the exchange match", "patients"},
		{"no entry named", `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"Conditional PUT matched multiple resources"}}]}`, "several resources at the exchange match a conditional identifier of the bundle", "patients"},
		{"another refusal", oo("Missing required property", "1"), "exchange answered 400 Bad Request", "merge"},
	}
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	batch := &queue.Item{ID: "01TX", Body: []byte(strings.Replace(string(tx.Body), `"transaction"`, `"batch"`, 1))}
	for _, c := range cases {
		ex.set(canned(400, MediaType, c.body, nil))
		if c.name == "a Practitioner" {
			// The same refusal of one entry of a batch.
			ex.set(canned(200, MediaType, `{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"400","outcome":`+c.body+`}}]}`, nil))
			if err := s.Send(context.Background(), batch); !queue.IsPermanent(err) || !strings.Contains(transport.Summary(err), c.want) {
				t.Errorf("batch entry: %v, want a dead letter saying %q", err, c.want)
			}
			ex.set(canned(400, MediaType, c.body, nil))
		}
		err := s.Send(context.Background(), tx)
		if !queue.IsPermanent(err) {
			t.Errorf("%s: %v, want a dead letter", c.name, err)
			continue
		}
		sum := transport.Summary(err)
		if !strings.Contains(sum, c.want) || c.unwanted != "" && strings.Contains(sum, c.unwanted) {
			t.Errorf("%s: reason %q, want %q", c.name, sum, c.want)
		}
	}
}
