package pipeline

import (
	"strings"
	"testing"
)

// TestFHIRJSONBundleEntriesChecked: an entry of a dropped transaction or
// batch that the exchange cannot apply (no request, FHIR R4 bdl-3; a
// resourceType that is not R4's, as an STU3 export's ProcedureRequest;
// a resource of another type than its request URL names) is refused at
// the drop, naming the entry by its number, as a resource sent alone is
// refused, rather than sent for the exchange to refuse the whole
// transaction, the file gone to done/ as sent. The requests FHIR gives a
// transaction without a resource, or with another type's (a DELETE, a
// PATCH with Parameters), still go.
func TestFHIRJSONBundleEntriesChecked(t *testing.T) {
	const patient = `{"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","identifier":[{"system":"s","value":"1"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=s%7C1"}}`
	bundle := func(typ string, entries ...string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(append([]string{patient}, entries...), ",") + `]}`
	}
	for _, c := range []struct{ body, want string }{
		{bundle("transaction", `{"resource":{"resourceType":"ProcedureRequest","id":"r1","subject":{"reference":"urn:uuid:p"}},"request":{"method":"PUT","url":"ProcedureRequest/r1"}}`),
			`entry 2: resourceType "ProcedureRequest" is not a FHIR resource type`},
		{bundle("batch", `{"resource":{"resourceType":"OperationOutcome","issue":[]},"request":{"method":"POST","url":"OperationOutcome","ifNoneExist":"_id=x"}}`),
			`entry 2: resourceType "OperationOutcome"`},
		{bundle("transaction", `{"fullUrl":"urn:uuid:o","resource":{"resourceType":"Observation","id":"o1","subject":{"reference":"urn:uuid:p"}}}`),
			`entry 2: no request`},
		{bundle("transaction", `{"resource":{"resourceType":"Observation","id":"o1"},"request":{"method":"put","url":"Observation/o1"}}`),
			`entry 2: request.method "put"`},
		{bundle("transaction", `{"resource":{"resourceType":"Observation","id":"o1"},"request":{"method":"PUT","url":"Condition/o1"}}`),
			`entry 2: an Observation in PUT Condition/o1`},
		{bundle("transaction", `{"resource":{"resourceType":"Observation","identifier":[{"system":"o","value":"1"}]},"request":{"method":"PUT","url":"Condition?identifier=o%7C1"}}`),
			`entry 2: an Observation in PUT Condition?identifier=o%7C1`},
		{bundle("transaction", `{"request":{"method":"PUT","url":"Observation/o1"}}`),
			`entry 2: a PUT without a resource`},
		{bundle("transaction",
			`{"request":{"method":"DELETE","url":"Observation/o1"}}`,
			`{"resource":{"resourceType":"Parameters","parameter":[]},"request":{"method":"PATCH","url":"Observation/o2"}}`,
			`{"resource":{"resourceType":"Observation","identifier":[{"system":"o","value":"3"}]},"request":{"method":"PUT","url":"Observation?identifier=o%7C3"}}`,
			`{"resource":{"resourceType":"Observation","id":"o4"},"request":{"method":"PUT","url":"Observation/o4"}}`,
			`{"resource":{"resourceType":"Observation"},"request":{"method":"POST","url":"Observation"}}`,
			`{"request":{"method":"GET","url":"Patient?identifier=s%7C1"}}`), ``},
	} {
		units := convertFHIR(t, FHIRJSON{}, "fhir-json", c.body)
		if len(units) != 1 {
			t.Fatalf("%s: %d units", c.body, len(units))
		}
		got := units[0].Err
		if c.want == "" && got != nil || c.want != "" && (got == nil || !strings.Contains(got.Error(), c.want)) {
			t.Errorf("%s:\n got %v\nwant %q", c.body, got, c.want)
		}
	}
}
