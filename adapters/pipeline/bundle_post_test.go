package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/transport/fhirrecv"
)

// TestFHIRJSONBundleResendCreatesOnce: a transaction or batch Bundle
// dropped as it is (Synthea and many EHR "push" exports write every entry
// as a plain POST) is delivered at least once like everything else; a
// redelivery after a lost response, or the same export dropped again the
// next night, must not create its resources twice. Its plain POST entries
// go as the pass-through's single resources do: a conditional create on
// their first identifier, or on one minted from their content, or a PUT
// under an id derived from it for a type without an identifier. Entries
// that are already repeatable are left byte for byte.
func TestFHIRJSONBundleResendCreatesOnce(t *testing.T) {
	const pat = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	bundle := func(typ string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` +
			`{"fullUrl":"` + pat + `","resource":{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"1"}]},"request":{"method":"POST","url":"Patient"}},` +
			`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"k"},"valueQuantity":{"value":4.10},"subject":{"reference":"` + pat + `"}},"request":{"method":"POST","url":"Observation"}},` +
			`{"resource":{"resourceType":"Condition","identifier":[{"system":"urn:c","value":"c1"}],"code":{"text":"flu"},"subject":{"reference":"` + pat + `"}},"request":{"method":"POST","url":"Condition","ifNoneExist":"identifier=urn:c|c1"}},` +
			`{"resource":{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="},"request":{"method":"POST","url":"Binary"}},` +
			`{"resource":{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"}},"request":{"method":"PUT","url":"Encounter/e1"}}` +
			`]}`
	}
	for _, typ := range []string{"transaction", "batch", "pretty"} {
		recv := fhirrecv.New()
		srv := httptest.NewServer(recv)
		in := bundle(typ)
		if typ == "pretty" {
			var b bytes.Buffer
			if err := json.Indent(&b, []byte(bundle("transaction")), "", "  "); err != nil {
				t.Fatal(err)
			}
			in = b.String()
		}
		for range 2 {
			units := convertFHIR(t, FHIRJSON{}, "fhir-json", in)
			if len(units) != 1 || units[0].Err != nil {
				t.Fatalf("%s: %v", typ, units)
			}
			b := units[0].Bundle
			if typ != "pretty" && (!bytes.Contains(b, []byte(`"request":{"method":"POST","url":"Condition","ifNoneExist":"identifier=urn:c|c1"}`)) ||
				!bytes.Contains(b, []byte(`"request":{"method":"PUT","url":"Encounter/e1"}`)) || !bytes.Contains(b, []byte(`"value":4.10`))) {
				t.Errorf("%s: entries already repeatable, or numbers, were changed: %s", typ, b)
			}
			if !json.Valid(b) {
				t.Fatalf("%s: invalid JSON %s", typ, b)
			}
			resp, err := http.Post(srv.URL, "application/fhir+json", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d for %s", typ, resp.StatusCode, b)
			}
		}
		want := map[string]int{"Patient": 1, "Observation": 1, "Condition": 1, "Binary": 1, "Encounter": 1}
		if got := recv.Counts(); !maps.Equal(got, want) {
			t.Errorf("%s: after a re-send the exchange holds %v, want %v", typ, got, want)
		}
		srv.Close()
	}
	// An entry that names no resource type it can be written as is
	// refused with the entry's place, not sent.
	bad := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Obs/1"},"request":{"method":"POST","url":"Obs"}}]}`
	if u := convertFHIR(t, FHIRJSON{}, "fhir-json", bad)[0]; u.Err == nil || !strings.Contains(u.Err.Error(), "entry 1") {
		t.Errorf("bad entry: %v", u.Err)
	}
}

// TestFHIRJSONLargeTransactionParts: a Medplum-based exchange refuses a
// transaction of more than fhir.MaxConditionalEntries entries holding a
// conditional create, so a larger transaction is cut into parts of at
// most that many entries; each plain POST entry is the conditional create
// it is in a smaller transaction (on its identifier, here one minted from
// its content), and each part carries the Patient's conditional create
// its entries refer to, so the urn:uuid references to it still resolve
// by fullUrl in every part (see TestLargeTransactionFindsThePatient and
// TestLargeTransactionFindsEveryResource). One without a Patient entry is
// cut too.
func TestFHIRJSONLargeTransactionParts(t *testing.T) {
	const pat = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	for _, withPatient := range []bool{true, false} {
		var b strings.Builder
		b.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[`)
		subject := "Patient/p1"
		if withPatient {
			b.WriteString(`{"fullUrl":"` + pat + `","resource":{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"1"}]},"request":{"method":"POST","url":"Patient"}},`)
			subject = pat
		}
		for i := range 9 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"resource":{"resourceType":"Observation","status":"final","code":{"text":"k"},"valueQuantity":{"value":%d},"subject":{"reference":"%s"}},"request":{"method":"POST","url":"Observation"}}`, i, subject)
		}
		b.WriteString(`]}`)
		recv := fhirrecv.New()
		srv := httptest.NewServer(recv)
		defer srv.Close()
		for range 2 {
			units := convertFHIR(t, FHIRJSON{}, "fhir-json", b.String())
			if len(units) != 2 {
				t.Fatalf("patient %v: %d units, want 2", withPatient, len(units))
			}
			observations := 0
			for _, u := range units {
				if u.Err != nil {
					t.Fatal(u.Err)
				}
				var got struct {
					Entry []struct {
						FullURL  string
						Resource struct{ ResourceType string }
						Request  struct{ Method, URL, IfNoneExist string }
					}
				}
				if err := json.Unmarshal(u.Bundle, &got); err != nil || len(got.Entry) > fhir.MaxConditionalEntries {
					t.Fatalf("bundle %s: %v", u.Bundle, err)
				}
				for i, e := range got.Entry {
					switch {
					case e.Resource.ResourceType != "Patient":
						observations++
						if e.Request.Method != "POST" || !strings.HasPrefix(e.Request.IfNoneExist, "identifier=urn%3Aferry%3Acontent-sha256%7C") {
							t.Errorf("%s entry %d: %+v, want a conditional create on its minted identifier", u.Name, i+1, e.Request)
						}
					case i != 0 || e.FullURL != pat || e.Request.Method != "POST" || e.Request.IfNoneExist != "identifier=urn%3Ax%7C1":
						t.Errorf("%s entry %d: %q %+v, want the Patient's conditional create first", u.Name, i+1, e.FullURL, e.Request)
					}
				}
				resp, err := http.Post(srv.URL, "application/fhir+json", bytes.NewReader(u.Bundle))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			if observations != 9 {
				t.Errorf("patient %v: the parts hold %d Observations, want 9", withPatient, observations)
			}
		}
		want := map[string]int{"Observation": 9}
		if withPatient {
			want["Patient"] = 1
		}
		if got := recv.Counts(); !maps.Equal(got, want) {
			t.Errorf("after a re-send the exchange holds %v, want %v", got, want)
		}
	}
}
