package fhirrecv

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTransactionAllOrNothing: a transaction the receiver refuses leaves
// nothing of it stored, as FHIR R4 http.html#transaction requires ("servers
// SHALL either accept all actions and return a 200 OK, along with a
// response bundle, or reject all resources and return an HTTP 400 or 500
// type response"): the entries before the one refused, a PATCH that found
// nothing or an unsupported request, were kept, so a test or `ferry demo`
// saw resources of a transaction the gateway dead-lettered. A batch's
// failed PATCH still fails alone.
func TestTransactionAllOrNothing(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	recv := srv.Config.Handler.(*Receiver)
	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+"/fhir", "application/fhir+json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const put = `{"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1"}},` +
		`{"resource":{"resourceType":"Observation","identifier":[{"system":"s","value":"1"}]},"request":{"method":"POST","url":"Observation","ifNoneExist":"identifier=s%7C1"}},` +
		`{"resource":{"resourceType":"Encounter"},"request":{"method":"POST","url":"Encounter"}},`
	patch := `{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` +
		base64.StdEncoding.EncodeToString([]byte(`[{"op":"replace","path":"/status","value":"final"}]`)) +
		`"},"request":{"method":"PATCH","url":"Observation/missing"}}`
	for name, last := range map[string]string{
		"patch not found": patch,
		"unsupported":     `{"request":{"method":"DELETE","url":"Observation/o1"},"resource":{"resourceType":"Observation"}}`,
		"no resource":     `{"request":{"method":"PUT","url":"Condition/c1"}}`,
	} {
		if code := post(`{"resourceType":"Bundle","type":"transaction","entry":[` + put + last + `]}`); code < 400 {
			t.Fatalf("%s: status %d, want the transaction refused", name, code)
		}
		if c := recv.Counts(); c["Patient"]+c["Observation"]+c["Encounter"] != 0 || recv.Bundles() != 0 {
			t.Errorf("%s: a refused transaction left %v stored (%d bundles applied)", name, c, recv.Bundles())
		}
	}
	// Applied whole, then a PATCH that fails in a batch fails alone.
	if code := post(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.TrimSuffix(put, ",") + `]}`); code != http.StatusOK {
		t.Fatalf("transaction: status %d", code)
	}
	if code := post(`{"resourceType":"Bundle","type":"batch","entry":[` + patch + `]}`); code != http.StatusOK {
		t.Fatalf("batch: status %d", code)
	}
	if c := recv.Counts(); c["Patient"] != 1 || c["Observation"] != 1 || c["Encounter"] != 1 || recv.Bundles() != 2 {
		t.Errorf("stored %v, %d bundles", c, recv.Bundles())
	}
}
