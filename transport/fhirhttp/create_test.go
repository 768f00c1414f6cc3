package fhirhttp

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

const docRef = `{"resourceType":"DocumentReference","masterIdentifier":{"system":"urn:ietf:rfc:3986","value":"urn:oid:2.25.1"},"status":"current","content":[{"attachment":{"contentType":"application/pdf","data":"JVBERi0="}}]}`

func createItem(id string) *queue.Item {
	return &queue.Item{ID: id, Body: []byte(docRef), Attrs: map[string]string{
		queue.AttrCreate: "DocumentReference", queue.AttrIfNoneExist: "identifier=urn%3Aietf%3Arfc%3A3986%7Curn%3Aoid%3A2.25.1"}}
}

// TestCreateIsAConditionalPOSTToTheType: an item marked queue.AttrCreate
// (IHE MHD ITI-105 Simplified Publish) is POSTed to [base]/<type> with
// its If-None-Exist, and is delivered only when the answer says the
// resource was created or found: a Location naming it, or the resource
// itself. What a proxy, portal or wrong URL answers stays queued as an
// endpoint problem, and a FHIR rejection is a dead letter, as for a
// bundle.
func TestCreateIsAConditionalPOSTToTheType(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	const oo = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"required","diagnostics":"subject required"}]}`
	loc := map[string]string{"Location": "https://hie.example/fhir/R4/DocumentReference/42/_history/1"}
	for _, c := range []struct {
		name  string
		code  int
		ct    string
		body  string
		hdr   map[string]string
		want  verdict
		inErr string
	}{
		{"201 with Location, no body (return=minimal)", 201, "", "", loc, delivered, ""},
		{"200 with Location (found by If-None-Exist)", 200, MediaType, `{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}`, loc, delivered, ""},
		{"201 with a relative Location", 201, "", "", map[string]string{"Location": "DocumentReference/42"}, delivered, ""},
		{"201 with the resource, no Location", 201, MediaType, docRef, nil, delivered, ""},
		{"200 html proxy page", 200, "text/html", "<html>Access denied</html>", nil, endpoint, "text/html page"},
		{"201 OperationOutcome without Location", 201, MediaType, oo, nil, endpoint, "OperationOutcome and no Location"},
		{"200 a transaction-response", 200, MediaType, txResponse, nil, endpoint, "with a Bundle"},
		{"201 Location naming another type", 201, "", "", map[string]string{"Location": "https://hie.example/fhir/R4/Binary/9"}, endpoint, "no body and no Location"},
		{"202 accepted", 202, "", "", loc, endpoint, "202 Accepted"},
		{"400 OperationOutcome", 400, MediaType, oo, nil, deadLetter, "subject required"},
		{"412 multiple matches", 412, MediaType, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"multiple-matches"}]}`, nil, deadLetter, "412"},
		{"503", 503, "", "", nil, retry, "503"},
	} {
		ex.set(canned(c.code, c.ct, c.body, c.hdr))
		err := s.Send(context.Background(), createItem("01CREATE"))
		if got := verdictOf(err); got != c.want {
			t.Errorf("%s: %v, want %v (%v)", c.name, got, c.want, err)
			continue
		}
		if err != nil && (!strings.Contains(err.Error(), c.inErr) || !strings.Contains(err.Error(), "create DocumentReference 01CREATE")) {
			t.Errorf("%s: %q does not name the create or %q", c.name, err, c.inErr)
		}
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for i, r := range ex.requests {
		if r.Method != http.MethodPost || r.URL.Path != "/fhir/R4/DocumentReference" ||
			r.Header.Get("If-None-Exist") != "identifier=urn%3Aietf%3Arfc%3A3986%7Curn%3Aoid%3A2.25.1" ||
			r.Header.Get("Prefer") != "return=minimal" || r.Header.Get("X-Request-Id") != "01CREATE" || ex.bodies[i] != docRef {
			t.Fatalf("request %d: %s %s If-None-Exist %q Prefer %q", i, r.Method, r.URL.Path, r.Header.Get("If-None-Exist"), r.Header.Get("Prefer"))
		}
	}
}

// TestCreateOfAnOddTypeIsRefused: a create attribute that is not a
// resource type name never becomes a URL path.
func TestCreateOfAnOddTypeIsRefused(t *testing.T) {
	ex := newExchange(t, false)
	s := newSink(t, Config{URL: ex.url(), TLS: ex.clientTLS()})
	it := createItem("01ODD")
	it.Attrs[queue.AttrCreate] = "../admin"
	if err := s.Send(context.Background(), it); !queue.IsPermanent(err) {
		t.Fatalf("got %v, want a permanent error", err)
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if len(ex.requests) != 0 {
		t.Fatalf("%d requests sent", len(ex.requests))
	}
}
