package pipeline

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestFHIRJSONPartsRelativeReferences: in an EHR's transaction whose
// fullUrls are RESTful (https://ehr.example/fhir/Patient/123) and whose
// references are relative (Patient/123), a reference names the entry at
// the referrer's root (FHIR R4 bundle.html#references: "if the reference
// has the format [type]/[id], and the fullUrl of the bundle entry that
// contains the resource is a RESTful one ..., extract the [root] and
// append the reference ([type]/[id]) to it and then try to resolve within
// the bundle"). Cut in parts, each part must carry the conditional entry
// such a reference names, and name an entry written under another id by
// that id: a part without them had its Observations point at whatever
// the exchange holds as Patient/123 (another patient, or none) instead of
// the patient found by its identifier.
func TestFHIRJSONPartsRelativeReferences(t *testing.T) {
	const root = "https://ehr.example/fhir/"
	es := []string{`{"fullUrl":"` + root + `Patient/123","resource":{"resourceType":"Patient","id":"123","identifier":[{"system":"s","value":"1"}]},"request":{"method":"POST","url":"Patient"}}`}
	for i := range 10 {
		es = append(es, fmt.Sprintf(`{"fullUrl":"%sObservation/o%d","resource":{"resourceType":"Observation","id":"o%d","identifier":[{"system":"o","value":"%d"}],"subject":{"reference":"Patient/123"}},"request":{"method":"POST","url":"Observation"}}`, root, i, i, i))
	}
	// A report naming all ten results, more than fit beside it: they are
	// PUT under ids of ferry's, which its references must then name.
	var results []string
	for i := range 10 {
		results = append(results, fmt.Sprintf(`{"reference":"Observation/o%d"}`, i))
	}
	es = append(es, `{"fullUrl":"`+root+`DiagnosticReport/r1","resource":{"resourceType":"DiagnosticReport","identifier":[{"system":"r","value":"1"}],"subject":{"reference":"Patient/123"},"result":[`+strings.Join(results, ",")+`]},"request":{"method":"POST","url":"DiagnosticReport"}}`)
	body := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(es, ",") + `]}`
	units := convertFHIR(t, FHIRJSON{}, "fhir-json", body)
	if len(units) < 2 {
		t.Fatalf("%d units, want parts", len(units))
	}
	putAs := map[string]string{} // Observation/o<i> → the Type/id it is PUT under
	type entry struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  struct{ Method, URL string }
	}
	parts := make([][]entry, len(units))
	for k, u := range units {
		if u.Err != nil {
			t.Fatalf("%s: %v", u.Name, u.Err)
		}
		var b struct{ Entry []entry }
		if err := json.Unmarshal(u.Bundle, &b); err != nil {
			t.Fatal(err)
		}
		parts[k] = b.Entry
		for _, e := range b.Entry {
			if e.Request.Method == "PUT" {
				putAs[strings.TrimPrefix(e.FullURL, root)] = e.Request.URL
			}
		}
	}
	written := map[string]bool{} // the Type/ids PUT by this part or an earlier one
	for k, entries := range parts {
		fullURLs := map[string]bool{}
		for _, e := range entries {
			fullURLs[e.FullURL] = true
			if e.Request.Method == "PUT" {
				written[e.Request.URL] = true
			}
		}
		for _, e := range entries {
			var r struct {
				Subject struct{ Reference string }
				Result  []struct{ Reference string }
			}
			if err := json.Unmarshal(e.Resource, &r); err != nil {
				t.Fatal(err)
			}
			if ref := r.Subject.Reference; ref != "" && !fullURLs[root+ref] {
				t.Errorf("part %d: %s refers to %s, which names no entry of the part", k+1, e.FullURL, ref)
			}
			for _, res := range r.Result {
				ref := res.Reference
				if !written[ref] && (putAs[ref] != "" || !fullURLs[root+ref]) {
					t.Errorf("part %d: %s refers to %s, which names neither an entry of the part nor a resource written under that id (%q)", k+1, e.FullURL, ref, putAs[ref])
				}
			}
		}
	}
}
