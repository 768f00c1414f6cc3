package fhirrecv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBatchEntryFailsAlone: in a batch each entry succeeds or fails on
// its own (FHIR R4 http.html#transaction: "For a batch, ... there SHALL
// be no interdependencies between the different entries", and the
// batch-response gives each entry's outcome), so an entry the receiver
// cannot apply (no resource, a request it does not take) is answered in
// its own response entry with a 4xx and an OperationOutcome, the others
// applied and answered 201; the whole batch was refused 400 after the
// entries before it had been stored, so the gateway dead-lettered a batch
// the stand-in exchange partly held.
func TestBatchEntryFailsAlone(t *testing.T) {
	recv := New()
	srv := httptest.NewServer(recv)
	defer srv.Close()
	body := `{"resourceType":"Bundle","type":"batch","entry":[` +
		`{"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1"}},` +
		`{"request":{"method":"DELETE","url":"Observation/o1"}},` +
		`{"resource":{"resourceType":"Observation"},"request":{"method":"GET","url":"Observation/o2"}},` +
		`{"resource":{"resourceType":"Encounter","id":"e1"},"request":{"method":"PUT","url":"Encounter/e1"}}]}`
	resp, err := http.Post(srv.URL+"/fhir", "application/fhir+json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 with a batch-response", resp.StatusCode)
	}
	var out struct {
		Type  string
		Entry []struct {
			Response struct {
				Status  string
				Outcome *struct{ ResourceType string }
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Type != "batch-response" || len(out.Entry) != 4 {
		t.Fatalf("response %+v, %v", out, err)
	}
	for i, want := range []string{"201", "400", "400", "201"} {
		r := out.Entry[i].Response
		if !strings.HasPrefix(r.Status, want) || (want == "400") != (r.Outcome != nil && r.Outcome.ResourceType == "OperationOutcome") {
			t.Errorf("entry %d: %+v, want %s", i, r, want)
		}
	}
	if c := recv.Counts(); c["Patient"] != 1 || c["Encounter"] != 1 {
		t.Errorf("stored %v", c)
	}
}
