package pipeline

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestNDJSONRefusesUnstoredTypes: an NDJSON line whose resourceType is no
// R4 resource type a server stores (a bulk export's OperationOutcome, a
// Parameters, a misspelt or invented type, a type of another FHIR
// version) never reaches the queue, where the exchange would answer 4xx
// and the item be dead-lettered: it is quarantined alone, the entry
// naming the file and the line, and every other line is queued. Before,
// any capitalised word passed as a type.
func TestNDJSONRefusesUnstoredTypes(t *testing.T) {
	_, q, quar := newTestPipeline(t)
	p := New(q, memSeen{}, quar, map[string]Converter{"fhir-ndjson": FHIRJSON{}}, nil)
	lines := []string{
		`{"resourceType":"Patient","id":"p1"}`,
		`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Observation/o7 could not be exported"}]}`,
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`,
		`{"resourceType":"Parameters","parameter":[{"name":"x","valueString":"y"}]}`,
		`{"resourceType":"Observaton","id":"o2","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`,
		`{"resourceType":"DeviceUsage","id":"d1","subject":{"reference":"Patient/p1"}}`,
		`{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"}}`,
	}
	in := adapters.Raw{Source: "folder/ehr", Name: "export.ndjson", Format: "fhir-ndjson", Received: time.Now(),
		Body: []byte(strings.Join(lines, "\n") + "\n")}
	err := p.Consume(context.Background(), in)
	if !queue.IsPermanent(err) {
		t.Fatalf("Consume = %v, want a permanent error (the file to failed/)", err)
	}
	for _, want := range []string{
		`line 2: resourceType "OperationOutcome"`, `line 4: resourceType "Parameters"`,
		`line 5: resourceType "Observaton"`, `line 6: resourceType "DeviceUsage"`,
	} {
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "export.ndjson") {
			t.Errorf("error lacks %q and the file's name:\n%v", want, err)
		}
	}
	if !strings.Contains(err.Error(), "error report") {
		t.Errorf("the OperationOutcome's refusal does not say what it is:\n%v", err)
	}
	var types []string
	for q.Len() > 0 {
		it, ack, err := q.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Resource struct{ ResourceType string }
			}
		}
		if err := json.Unmarshal(it.Body, &b); err != nil || len(b.Entry) != 1 {
			t.Fatalf("queued %s: %v", it.Body, err)
		}
		types = append(types, b.Entry[0].Resource.ResourceType)
		ack(context.Background(), nil)
	}
	if strings.Join(types, ",") != "Patient,Observation,Encounter" {
		t.Errorf("queued %v, want the Patient, Observation and Encounter lines", types)
	}
	ids, err := quar.List()
	if err != nil || len(ids) != 4 {
		t.Fatalf("quarantined %d (%v), want the 4 refused lines", len(ids), err)
	}
	units := map[string]string{}
	for _, id := range ids {
		e, err := quar.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Name != "export.ndjson" {
			t.Errorf("entry %s names %q, not the file", id, e.Name)
		}
		units[e.Meta["unit"]] = e.Reason
	}
	for _, line := range []string{"line 2", "line 4", "line 5", "line 6"} {
		if units[line] == "" {
			t.Errorf("no quarantine entry names %s: %v", line, units)
		}
	}
}

// TestFHIRJSONRefusesUnstoredType: a single FHIR JSON document of a type
// no server stores is refused as an NDJSON line is; a POST entry of a
// transaction Bundle made repeatable is held to the same list.
func TestFHIRJSONRefusesUnstoredType(t *testing.T) {
	for body, want := range map[string]string{
		`{"resourceType":"OperationOutcome","issue":[]}`: "not a FHIR resource type a server stores",
		`{"resourceType":"Parameters"}`:                  "not a FHIR resource type a server stores",
		`{"resourceType":"Patientt"}`:                    "not a FHIR resource type",
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"OperationOutcome"},"request":{"method":"POST","url":"OperationOutcome"}}]}`: "entry 1",
		`{"resourceType":"Binary","contentType":"text/plain"}`: "",
	} {
		units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "x.json", Body: []byte(body)})
		if err != nil || len(units) != 1 {
			t.Fatalf("%s: %v %v", body, err, units)
		}
		if got := units[0].Err; want == "" && got != nil || want != "" && (got == nil || !strings.Contains(got.Error(), want)) {
			t.Errorf("%s: %v, want %q", body, got, want)
		}
	}
}
