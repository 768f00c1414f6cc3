package fhirrecv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMethodNotAllowedSaysAllow: a request other than POST is answered
// 405 with an OperationOutcome and, as RFC 9110 15.5.6 requires ("The
// origin server MUST generate an Allow header field in a 405 response
// containing a list of the target resource's currently supported
// methods"), Allow: POST.
func TestMethodNotAllowedSaysAllow(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/fhir/R4/Patient")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("status %d, want 405", resp.StatusCode)
	}
	if got := resp.Header.Get("Allow"); got != http.MethodPost {
		t.Errorf("Allow %q, want POST", got)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var oo struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&oo); err != nil || oo.ResourceType != "OperationOutcome" {
		t.Errorf("body: %+v, %v", oo, err)
	}
}
