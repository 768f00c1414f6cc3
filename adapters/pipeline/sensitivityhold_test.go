package pipeline

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestSensitivityAloneImpliesRestricted: an export that labels an HIV
// viral load by its sensitivity alone (meta.security HIV, no
// confidentiality code) was wrapped in a transaction whose high-water mark
// was HIV alone, no confidentiality code, though DS4P gives every label
// set exactly one; so the default exchange.hold (R, V, 42CFRPart2) sent
// it, while the same result from HL7 v2 (ARV-3 HIV) or a CSV mapping
// (security: [HIV]) is R and held. The Bundle's mark is now R with the
// sensitivity, as every other source's is, for a resource and a
// transaction alike; the resource itself stays as sent.
func TestSensitivityAloneImpliesRestricted(t *testing.T) {
	p, q, held := heldFHIRPipeline(t)

	hiv := `{"resourceType":"Observation","id":"vl1","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HIV"}]},` +
		`"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"20447-9"}]},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":40,"unit":"copies/mL"}}`
	plain := `{"resourceType":"Observation","id":"hb1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/p1"}}`
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + hiv + `,"request":{"method":"PUT","url":"Observation/vl1"}}]}`
	ctx := context.Background()
	for _, in := range []adapters.Raw{
		{Source: "ehr", Format: "fhir-ndjson", Name: "Observation.ndjson", Body: []byte(hiv + "\n" + plain + "\n")},
		{Source: "ehr", Format: "fhir-json", Name: "tx.json", Body: []byte(tx)},
	} {
		if err := p.Consume(ctx, in); err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
	}
	if n := q.Len(); n != 1 {
		t.Errorf("%d bundles queued, want the unlabelled result's alone", n)
	}
	ids, err := held.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("%d held, want the HIV result's two bundles", len(ids))
	}
	for _, id := range ids {
		e, err := held.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		var b struct{ Meta *fhir.Meta }
		if err := json.Unmarshal(e.Bundle, &b); err != nil || b.Meta == nil {
			t.Fatalf("%s: bundle %s: %v", e.Name, e.Bundle, err)
		}
		var codes []string
		for _, c := range b.Meta.Security {
			codes = append(codes, c.Code)
		}
		if got := strings.Join(codes, ","); got != "R,HIV" || e.Label != "R" {
			t.Errorf("%s: held for %q, Bundle labelled %s; want R and R,HIV", e.Name, e.Label, got)
		}
	}
}

// heldFHIRPipeline is a pipeline of FHIR JSON and NDJSON files under the
// default exchange.hold, its queue and held store in t's temporary folder.
func heldFHIRPipeline(t *testing.T) (*Pipeline, *diskq.Queue, *Held) {
	t.Helper()
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	held, err := OpenHeld(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(q, memSeen{}, quar, map[string]Converter{"fhir-json": FHIRJSON{}, "fhir-ndjson": FHIRJSON{}}, nil)
	p.SetPolicy(Policy{Hold: config.DefaultHold}, held, nil)
	return p, q, held
}
