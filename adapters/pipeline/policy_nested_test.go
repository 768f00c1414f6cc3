package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestPolicyHoldsNestedLabels: a FHIR JSON drop passes through as it is,
// so a label the policy holds may sit deeper than Bundle.meta and
// entry.resource.meta: on a contained resource, inside a document Bundle
// carried as an entry, or as a DocumentReference's securityLabel (DS4P:
// DocumentReference labels carry the document's high-water mark). Each
// such bundle must be held, not queued for the exchange.
func TestPolicyHoldsNestedLabels(t *testing.T) {
	const conf = `"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"`
	cases := map[string]string{
		"contained": `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","id":"o1",` +
			`"contained":[{"resourceType":"Patient","id":"p","meta":{"security":[{` + conf + `}]}}],"status":"final","code":{"text":"x"}},` +
			`"request":{"method":"PUT","url":"Observation/o1"}}]}`,
		"nested bundle": `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Bundle","id":"d1","type":"document",` +
			`"entry":[{"resource":{"resourceType":"Composition","id":"c","meta":{"security":[{` + conf + `}]}}}]},` +
			`"request":{"method":"PUT","url":"Bundle/d1"}}]}`,
		"securityLabel": `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"DocumentReference","id":"r1",` +
			`"status":"current","securityLabel":[{"coding":[{` + conf + `}]}],"content":[{"attachment":{"contentType":"text/plain","data":"eA=="}}]},` +
			`"request":{"method":"PUT","url":"DocumentReference/r1"}}]}`,
	}
	for name, bundle := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close(context.Background())
			quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
			if err != nil {
				t.Fatal(err)
			}
			held, err := OpenHeld(filepath.Join(dir, "held"))
			if err != nil {
				t.Fatal(err)
			}
			p := New(q, memSeen{}, quar, map[string]Converter{"fhir": FHIRJSON{}}, nil)
			p.SetPolicy(Policy{Hold: []string{"R"}}, held, nil)
			if err := p.Consume(context.Background(), adapters.Raw{Source: "folder/ehr", Format: "fhir", Name: "b.json", Body: []byte(bundle)}); err != nil {
				t.Fatal(err)
			}
			ids, _ := held.List()
			if q.Len() != 0 || len(ids) != 1 {
				t.Fatalf("labelled R: queued %d, held %d; want held", q.Len(), len(ids))
			}
		})
	}
}
