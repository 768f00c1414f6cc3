package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestActCodeLabelAnyCaseHeld: a FHIR export labelling a substance use
// disorder record with its policy code in capitals ("42CFRPART2", as an
// interface engine fed from HL7 v2 writes codes) and nothing else went
// out under the default exchange.hold (R, V, 42CFRPart2): the hold
// compared codes exactly, and the Bundle's high-water mark, not knowing
// the code, neither implied R nor wrote it as v3-ActCode does, though
// the HL7 v2 path reads such a code in any case (Labels.AddText). The
// code now counts in any case, in the hold (a Bundle, an entry, a spilled
// file, a converter's list) and in the mark, which writes it as v3-ActCode
// has it; the resource keeps the label as it came.
func TestActCodeLabelAnyCaseHeld(t *testing.T) {
	p, q, held := heldFHIRPipeline(t)

	sud := `{"resourceType":"Condition","id":"ud1","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"42CFRPART2"}]},` +
		`"code":{"coding":[{"system":"http://snomed.info/sct","code":"7200002"}]},"subject":{"reference":"Patient/p1"}}`
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + sud + `,"request":{"method":"PUT","url":"Condition/ud1"}}]}`
	ctx := context.Background()
	for _, in := range []adapters.Raw{
		{Source: "ehr", Format: "fhir-ndjson", Name: "Condition.ndjson", Body: []byte(sud + "\n")},
		{Source: "ehr", Format: "fhir-json", Name: "tx.json", Body: []byte(tx)},
	} {
		if err := p.Consume(ctx, in); err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
	}
	if n := q.Len(); n != 0 {
		t.Errorf("%d bundles queued, want none: a Part 2 record", n)
	}
	ids, err := held.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("%d held, want both bundles of the Part 2 record", len(ids))
	}
	for _, id := range ids {
		e, err := held.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Meta  *fhir.Meta
			Entry []struct{ Resource struct{ Meta *fhir.Meta } }
		}
		if err := json.Unmarshal(e.Bundle, &b); err != nil || b.Meta == nil || len(b.Entry) != 1 || b.Entry[0].Resource.Meta == nil {
			t.Fatalf("%s: bundle %s: %v", e.Name, e.Bundle, err)
		}
		var codes []string
		for _, c := range b.Meta.Security {
			codes = append(codes, c.Code)
		}
		if got := strings.Join(codes, ","); got != "R,42CFRPart2" {
			t.Errorf("%s: Bundle labelled %s, want R,42CFRPart2", e.Name, got)
		}
		if got := b.Entry[0].Resource.Meta.Security; len(got) != 1 || got[0].Code != "42CFRPART2" {
			t.Errorf("%s: resource labelled %v, want its label as sent", e.Name, got)
		}
	}

	pol := Policy{Hold: []string{"42CFRPart2", "HIV"}}
	for _, code := range []string{"42CFRPART2", "42cfrpart2", "hiv"} {
		for _, b := range []string{
			`{"resourceType":"Bundle","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"` + code + `"}]}}`,
			`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"` + code + `"}]}}}]}`,
		} {
			if _, h := pol.Held([]byte(b)); !h {
				t.Errorf("Held(%s) not held", b)
			}
			f := filepath.Join(t.TempDir(), "b.json")
			if err := os.WriteFile(f, []byte(b), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, h := pol.HeldFile(f); !h {
				t.Errorf("HeldFile(%s) not held", b)
			}
		}
		if _, h := pol.HeldLabels([]fhir.Coding{{System: fhir.SystemActCode, Code: code}}); !h {
			t.Errorf("HeldLabels(%s) not held", code)
		}
	}
	if _, h := pol.Held([]byte(`{"resourceType":"Bundle","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"psy"}]}}`)); h {
		t.Error("psy held by a policy of 42CFRPart2 and HIV")
	}
}
