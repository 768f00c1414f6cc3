package pipeline

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestFHIRJSONIfNoneExist: a dropped resource without an id is created
// once, by its first identifier; the search is query-escaped, and FHIR
// search's own separators inside the value are escaped, so a value with a
// '&', ',' or '|' cannot name another record.
func TestFHIRJSONIfNoneExist(t *testing.T) {
	body := []byte(`{"resourceType":"Patient","identifier":[{"value":"no system"},{"system":"urn:oid:1.2.3","value":"A&B,C|D"}]}`)
	units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "p.json", Body: body})
	if err != nil || len(units) != 1 || units[0].Err != nil {
		t.Fatalf("convert: %v %v", err, units)
	}
	var b struct {
		Entry []struct {
			Request struct{ Method, URL, IfNoneExist string }
		}
	}
	if err := json.Unmarshal(units[0].Bundle, &b); err != nil || len(b.Entry) != 1 {
		t.Fatalf("bundle %s: %v", units[0].Bundle, err)
	}
	r := b.Entry[0].Request
	if r.Method != "POST" || r.URL != "Patient" {
		t.Errorf("request %+v", r)
	}
	q, err := url.ParseQuery(r.IfNoneExist)
	if err != nil || len(q) != 1 || q.Get("identifier") != `urn:oid:1.2.3|A&B\,C\|D` {
		t.Errorf("ifNoneExist %q decodes to %v (%v)", r.IfNoneExist, q, err)
	}
}
