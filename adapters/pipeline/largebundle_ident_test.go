package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLargeTransactionFindsEveryResource: every resource of a transaction
// with an identifier is one resource at the exchange, whether it came in
// a transaction of more than fhir.MaxConditionalEntries entries or a
// smaller one. Only the Patient of a large transaction stayed a
// conditional create; its Encounter and Organization, with identifiers
// the smaller export of the same visit had created them by (a conditional
// create, under ids of the exchange's), were PUT under ids derived from
// those identifiers, so the exchange held each twice and the visit's
// Observations were filed under the second Encounter. And a transaction
// that held the sender's own conditional create (ifNoneExist) or update
// (PUT Type?identifier=) was not cut at all, so an exchange that takes at
// most 8 entries beside one (Medplum) refused it whole. Each part now
// carries, beside its share of the entries, a conditional create or
// update of every resource with an identifier that they refer to, which
// finds the one stored, and sent twice changes nothing.
func TestLargeTransactionFindsEveryResource(t *testing.T) {
	const pat = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	const enc = "urn:uuid:6f1c1d5e-61a3-4d1e-9b7a-2d2f1d1e0a01"
	const org = "urn:uuid:0c0d4f4e-8d5b-4e0a-9f3e-1d1e2f3a4b5c"
	const cond = "urn:uuid:5d3c2b1a-0f9e-4d8c-b7a6-958473625140"
	for _, sender := range []bool{false, true} {
		bundle := func(first, obs int) string {
			var b strings.Builder
			b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"` + pat + `","resource":{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"MRN1"}],"managingOrganization":{"reference":"` + org + `"}},"request":{"method":"POST","url":"Patient"}}`)
			for i := first; i < first+obs; i++ {
				fmt.Fprintf(&b, `,{"fullUrl":"urn:uuid:00000000-0000-4000-8000-%012d","resource":{"resourceType":"Observation","identifier":[{"system":"urn:obs","value":"%d"}],"status":"final","code":{"text":"k"},"valueQuantity":{"value":%d},"subject":{"reference":"%s"},"encounter":{"reference":"%s"}},"request":{"method":"POST","url":"Observation"}}`, i, i, i, pat, enc)
			}
			encReq, orgReq := `{"method":"POST","url":"Encounter"}`, `{"method":"POST","url":"Organization"}`
			if sender {
				encReq = `{"method":"PUT","url":"Encounter?identifier=urn:enc|v1"}`
				orgReq = `{"method":"POST","url":"Organization","ifNoneExist":"identifier=urn:org|o1"}`
			}
			b.WriteString(`,{"fullUrl":"` + enc + `","resource":{"resourceType":"Encounter","identifier":[{"system":"urn:enc","value":"v1"}],"status":"finished","class":{"code":"AMB"},"subject":{"reference":"` + pat + `"}},"request":` + encReq + `}`)
			b.WriteString(`,{"fullUrl":"` + cond + `","resource":{"resourceType":"Condition","identifier":[{"system":"urn:cond","value":"c1"}],"code":{"text":"x"},"subject":{"reference":"` + pat + `"},"encounter":{"reference":"` + enc + `"}},"request":{"method":"POST","url":"Condition"}}`)
			b.WriteString(`,{"fullUrl":"` + org + `","resource":{"resourceType":"Organization","identifier":[{"system":"urn:org","value":"o1"}],"name":"Clinic"},"request":` + orgReq + `}`)
			return b.String() + `]}`
		}
		x := newIDExchange()
		srv := httptest.NewServer(x)
		send := func(body string) {
			t.Helper()
			for _, u := range convertFHIR(t, FHIRJSON{}, "fhir-json", body) {
				if u.Err != nil {
					t.Fatal(u.Err)
				}
				resp, err := http.Post(srv.URL, "application/fhir+json", bytes.NewReader(u.Bundle))
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("sender's conditionals %v: %s: %d %s", sender, u.Name, resp.StatusCode, msg)
				}
			}
		}
		send(bundle(100, 1)) // 5 entries: each created under the exchange's id
		for range 2 {        // 15 entries, and a redelivery
			send(bundle(0, 10))
		}
		for typ, want := range map[string]int{"Patient": 1, "Encounter": 1, "Organization": 1, "Condition": 1, "Observation": 11} {
			if n := x.count(typ); n != want {
				t.Errorf("sender's conditionals %v: the exchange holds %d %s, want %d", sender, n, typ, want)
			}
		}
		if d := x.dangling(); len(d) > 0 {
			t.Errorf("sender's conditionals %v: references to nothing: %v", sender, d)
		}
		x.mu.Lock()
		var encID string
		for id := range x.store["Encounter"] {
			encID = "Encounter/" + id
		}
		for _, o := range x.store["Observation"] {
			if ref := o["encounter"].(map[string]any)["reference"]; ref != encID {
				t.Errorf("sender's conditionals %v: an Observation is filed under %v, not the exchange's %s", sender, ref, encID)
			}
		}
		x.mu.Unlock()
		srv.Close()
	}
}

// TestLargeTransactionReportOfManyResults: a DiagnosticReport listing
// more results than fit beside it in one part cannot carry their
// conditional creates; its results are PUT under ids derived from their
// identifiers instead, the Patient still found by its identifier, and
// every part resolves what it refers to, sent twice or not.
func TestLargeTransactionReportOfManyResults(t *testing.T) {
	const pat = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"` + pat + `","resource":{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"MRN1"}]},"request":{"method":"POST","url":"Patient"}}`)
	var results []string
	for i := range 12 {
		full := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i)
		results = append(results, `{"reference":"`+full+`"}`)
		fmt.Fprintf(&b, `,{"fullUrl":"%s","resource":{"resourceType":"Observation","identifier":[{"system":"urn:obs","value":"%d"}],"status":"final","code":{"text":"k"},"subject":{"reference":"%s"}},"request":{"method":"POST","url":"Observation"}}`, full, i, pat)
	}
	b.WriteString(`,{"resource":{"resourceType":"DiagnosticReport","identifier":[{"system":"urn:dr","value":"r1"}],"status":"final","code":{"text":"CBC"},"subject":{"reference":"` + pat + `"},"result":[` + strings.Join(results, ",") + `]},"request":{"method":"POST","url":"DiagnosticReport"}}]}`)
	x := newIDExchange()
	srv := httptest.NewServer(x)
	defer srv.Close()
	x.store["Patient"] = map[string]map[string]any{"srv-0": {"resourceType": "Patient", "identifier": []any{map[string]any{"system": "urn:oid:1.2.3", "value": "MRN1"}}}}
	for range 2 {
		units := convertFHIR(t, FHIRJSON{}, "fhir-json", b.String())
		if len(units) < 2 {
			t.Fatalf("%d units, want parts", len(units))
		}
		for _, u := range units {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			resp, err := http.Post(srv.URL, "application/fhir+json", bytes.NewReader(u.Bundle))
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", u.Name, resp.StatusCode, msg)
			}
		}
	}
	for typ, want := range map[string]int{"Patient": 1, "Observation": 12, "DiagnosticReport": 1} {
		if n := x.count(typ); n != want {
			t.Errorf("the exchange holds %d %s, want %d", n, typ, want)
		}
	}
	if d := x.dangling(); len(d) > 0 {
		t.Errorf("references to nothing: %v", d)
	}
}
