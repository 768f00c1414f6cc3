package pipeline

import (
	"strings"
	"testing"
)

// TestFHIRJSONShapeErrorNamesEntry: a file that is JSON but not of a FHIR
// resource's shape (an id written as a number, as hand-made exports do;
// an entry's resource a string; a list of resources) is refused naming
// the member and, in a Bundle, the entry by its number, in FHIR's words:
// not as "not valid JSON" with Go's type names, which sent the contractor
// looking for a syntax error the file does not have.
func TestFHIRJSONShapeErrorNamesEntry(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"resourceType":"Bundle","type":"transaction","entry":[` +
			`{"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1"}},` +
			`{"resource":{"resourceType":"Observation","id":7},"request":{"method":"PUT","url":"Observation/7"}}]}`,
			`entry 2: resource.id is a JSON number, where FHIR has a string`},
		{`{"resourceType":"Bundle","type":"batch","entry":[{"resource":"Patient","request":{"method":"POST","url":"Patient"}}]}`,
			`entry 1: resource is a JSON string, where FHIR has an object`},
		{`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":["Patient"]}}]}`,
			`entry 1: request.url is a JSON array, where FHIR has a string`},
		{`{"resourceType":"Bundle","type":"transaction","entry":{"resource":{"resourceType":"Patient"}}}`,
			`entry is a JSON object, where FHIR has an array`},
		{`{"resourceType":"Patient","id":123}`, `id is a JSON number, where FHIR has a string`},
		{`[{"resourceType":"Patient","id":"p1"}]`, `a JSON array, not a FHIR resource (a JSON object)`},
	} {
		units := convertFHIR(t, FHIRJSON{}, "fhir-json", c.body)
		if len(units) != 1 || units[0].Err == nil {
			t.Errorf("%s: %v, want an error", c.body, units)
			continue
		}
		got := units[0].Err.Error()
		if !strings.Contains(got, c.want) || strings.Contains(got, "not valid JSON") || strings.Contains(got, "fhirHead") {
			t.Errorf("%s:\n got %s\nwant %s", c.body, got, c.want)
		}
	}
	// Bytes that are not JSON are still said to be so.
	units := convertFHIR(t, FHIRJSON{}, "fhir-json", `{"resourceType":"Patient",}`)
	if len(units) != 1 || units[0].Err == nil || !strings.Contains(units[0].Err.Error(), "not valid JSON") {
		t.Errorf("broken JSON: %v", units)
	}
}
