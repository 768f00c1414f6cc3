package standin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

// TestExchangePassThroughBundleResend: a transaction Bundle dropped into
// an EHR folder as Synthea writes it (every entry a plain POST, the
// entries referring to each other by urn:uuid fullUrl) is applied by the
// Medplum stand-in, and applied again (a redelivery, or the same export
// dropped the next night) it creates nothing twice; the same for a
// transaction over fhir.MaxConditionalEntries entries, cut into parts
// that each carry the conditional creates of the Patient and Encounter
// their entries refer to: the larger export of the same visit finds the
// Patient and the Encounter the smaller one created, where its Patient,
// then its Encounter, PUT under an id derived from its identifier was a
// second one.
// Skipped when node or the exchange's node_modules are missing.
func TestExchangePassThroughBundleResend(t *testing.T) {
	ex := standin.Start(t)
	const pat = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	const enc = "urn:uuid:6f1c1d5e-61a3-4d1e-9b7a-2d2f1d1e0a01"
	for _, n := range []int{3, 12} {
		var b strings.Builder
		fmt.Fprintf(&b, `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"%s","resource":{"resourceType":"Patient","identifier":[{"system":"urn:pt","value":"1"}],"name":[{"family":"Test"}]},"request":{"method":"POST","url":"Patient"}}`, pat)
		for i := range n {
			fmt.Fprintf(&b, `,{"fullUrl":"urn:uuid:00000000-0000-4000-8000-%012d","resource":{"resourceType":"Observation","status":"final","code":{"text":"k%d"},"valueQuantity":{"value":%d},"subject":{"reference":"%s"},"encounter":{"reference":"%s"}},"request":{"method":"POST","url":"Observation"}}`, i, n, i, pat, enc)
		}
		fmt.Fprintf(&b, `,{"fullUrl":"%s","resource":{"resourceType":"Encounter","identifier":[{"system":"urn:enc","value":"v1"}],"status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"%s"}},"request":{"method":"POST","url":"Encounter"}}`, enc, pat)
		b.WriteString(`]}`)
		before := ex.Count(t, "Observation")
		for round := range 2 {
			units, err := pipeline.FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "export", Body: []byte(b.String())})
			if err != nil || len(units) == 0 {
				t.Fatalf("%d entries: %v %v", n+2, err, units)
			}
			for _, u := range units {
				if u.Err != nil {
					t.Fatalf("%d entries: %s: %v", n+2, u.Name, u.Err)
				}
				got := ex.Do(t, "POST", ex.URL, u.Bundle)
				if got["type"] != "transaction-response" {
					t.Fatalf("%d entries, round %d: the stand-in answered %v", n+2, round+1, got)
				}
			}
		}
		if added := ex.Count(t, "Observation") - before; added != n {
			t.Errorf("%d entries sent twice: %d Observations, want %d", n+2, added, n)
		}
		for _, q := range []string{"Patient?identifier=urn:pt%7C1", "Encounter?identifier=urn:enc%7Cv1"} {
			res := ex.Do(t, "GET", ex.URL+"/"+q, nil)
			if e, _ := res["entry"].([]any); len(e) != 1 {
				t.Errorf("%d entries sent twice: %s finds %d, want 1", n+2, q, len(e))
			}
		}
	}
}

// TestExchangePassThroughLargeConditionals: a transaction over
// fhir.MaxConditionalEntries entries holding the sender's own conditional
// update (PUT Encounter?identifier=) and a DiagnosticReport listing more
// results than fit in one part is cut into parts the Medplum stand-in
// takes, sent twice, and every resource is there once.
func TestExchangePassThroughLargeConditionals(t *testing.T) {
	ex := standin.Start(t)
	const pat = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	const enc = "urn:uuid:6f1c1d5e-61a3-4d1e-9b7a-2d2f1d1e0a01"
	var b strings.Builder
	fmt.Fprintf(&b, `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"%s","resource":{"resourceType":"Patient","identifier":[{"system":"urn:pt","value":"9"}],"name":[{"family":"Test"}]},"request":{"method":"POST","url":"Patient"}}`, pat)
	fmt.Fprintf(&b, `,{"fullUrl":"%s","resource":{"resourceType":"Encounter","identifier":[{"system":"urn:enc","value":"v9"}],"status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"%s"}},"request":{"method":"PUT","url":"Encounter?identifier=urn:enc|v9"}}`, enc, pat)
	var results []string
	for i := range 12 {
		full := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i)
		results = append(results, `{"reference":"`+full+`"}`)
		fmt.Fprintf(&b, `,{"fullUrl":"%s","resource":{"resourceType":"Observation","identifier":[{"system":"urn:obs9","value":"%d"}],"status":"final","code":{"text":"k"},"subject":{"reference":"%s"},"encounter":{"reference":"%s"}},"request":{"method":"POST","url":"Observation"}}`, full, i, pat, enc)
	}
	b.WriteString(`,{"resource":{"resourceType":"DiagnosticReport","identifier":[{"system":"urn:dr","value":"r9"}],"status":"final","code":{"text":"CBC"},"subject":{"reference":"` + pat + `"},"encounter":{"reference":"` + enc + `"},"result":[` + strings.Join(results, ",") + `]},"request":{"method":"POST","url":"DiagnosticReport"}}]}`)
	for round := range 2 {
		units, err := pipeline.FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "export", Body: []byte(b.String())})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			got := ex.Do(t, "POST", ex.URL, u.Bundle)
			if got["type"] != "transaction-response" {
				t.Fatalf("round %d %s: %v\n%s", round, u.Name, got, u.Bundle)
			}
		}
	}
	for _, q := range []string{"Patient?identifier=urn:pt%7C9", "Encounter?identifier=urn:enc%7Cv9", "DiagnosticReport?identifier=urn:dr%7Cr9", "Observation?identifier=urn:obs9%7C3", "Observation?identifier=urn:obs9%7C11"} {
		res := ex.Do(t, "GET", ex.URL+"/"+q, nil)
		if e, _ := res["entry"].([]any); len(e) != 1 {
			t.Errorf("%s finds %d", q, len(e))
		}
	}
	if n := ex.Count(t, "Observation"); n != 12 {
		t.Errorf("%d Observations", n)
	}
}
