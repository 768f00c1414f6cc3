package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestFHIRJSONPartsKeepDeepLabels: a transaction cut in parts had every
// part carry the high-water mark of the labels on the Bundle and its
// entries' own meta alone, so a label exchange.hold finds deeper (on a
// resource an entry contains, in a DocumentReference's securityLabel:
// README, "a label counts at any depth") held the part with that entry
// and sent the others, which may refer to it, though README has every
// part kept back when one entry is restricted. The whole's mark now reads
// those labels too.
func TestFHIRJSONPartsKeepDeepLabels(t *testing.T) {
	for name, restricted := range map[string]string{
		"contained": `{"resourceType":"Observation","id":"o1","contained":[{"resourceType":"Specimen","id":"s","meta":{"security":[{"system":` + confSys + `,"code":"R"},{"system":` + actSys + `,"code":"42CFRPart2"}]}}],` +
			`"status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:6f1c1d9e-8f1b-4d8e-9a55-0d2b1f8c4e01"}}`,
		"securityLabel": `{"resourceType":"DocumentReference","id":"o1","status":"current","securityLabel":[{"coding":[{"system":` + confSys + `,"code":"R"},{"system":` + actSys + `,"code":"42CFRPart2"}]}],` +
			`"content":[{"attachment":{"contentType":"text/plain","data":"eA=="}}],"subject":{"reference":"urn:uuid:6f1c1d9e-8f1b-4d8e-9a55-0d2b1f8c4e01"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var sb strings.Builder
			sb.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[` +
				`{"fullUrl":"urn:uuid:6f1c1d9e-8f1b-4d8e-9a55-0d2b1f8c4e01","resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"1"}]},"request":{"method":"POST","url":"Patient"}}`)
			typ := strings.SplitN(strings.SplitN(restricted, `"resourceType":"`, 2)[1], `"`, 2)[0]
			fmt.Fprintf(&sb, `,{"resource":%s,"request":{"method":"PUT","url":"%s/o1"}}`, restricted, typ)
			for i := 1; i <= 12; i++ {
				fmt.Fprintf(&sb, `,{"resource":{"resourceType":"Condition","id":"c%d","subject":{"reference":"urn:uuid:6f1c1d9e-8f1b-4d8e-9a55-0d2b1f8c4e01"}},"request":{"method":"PUT","url":"Condition/c%d"}}`, i, i)
			}
			sb.WriteString(`]}`)
			units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: "fhir-json", Name: "tx.json", Body: []byte(sb.String())})
			if err != nil {
				t.Fatal(err)
			}
			if len(units) < 2 {
				t.Fatalf("%d units, want the transaction in parts", len(units))
			}
			pol := Policy{Hold: []string{"R", "V", "42CFRPart2"}}
			for _, u := range units {
				if u.Err != nil {
					t.Fatalf("%s: %v", u.Name, u.Err)
				}
				var b struct{ Meta *fhir.Meta }
				if err := json.Unmarshal(u.Bundle, &b); err != nil {
					t.Fatal(err)
				}
				if b.Meta == nil || securityCodes(b.Meta.Security) != "R,42CFRPart2" {
					t.Errorf("%s: Bundle meta %+v, want R,42CFRPart2", u.Name, b.Meta)
				}
				if _, held := pol.Held(u.Bundle); !held {
					t.Errorf("%s: not held with the part that holds the Part 2 entry", u.Name)
				}
			}
		})
	}
}

// TestFHIRJSONBundleMarkKeepsDeepLabels: the Bundle ferry wraps a FHIR
// resource in, and a transaction passed through whole, carried the
// high-water mark of the resources' own meta.security alone, so a very
// restricted resource an Observation contains, or a DocumentReference
// whose securityLabel says R (the document's mark, DS4P) with no
// meta.security, went in a Bundle labelled nothing or lower, though
// README has the Bundle carry the mark of its labels and exchange.hold
// reads them at any depth. The mark now reads them there too; the
// resources stay as sent.
func TestFHIRJSONBundleMarkKeepsDeepLabels(t *testing.T) {
	obs := `{"resourceType":"Observation","id":"o1","meta":{"security":[{"system":` + confSys + `,"code":"N"}]},` +
		`"contained":[{"resourceType":"Specimen","id":"s","meta":{"security":[{"system":` + confSys + `,"code":"V"},{"system":` + actSys + `,"code":"HIV"}]}}],` +
		`"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}`
	doc := `{"resourceType":"DocumentReference","id":"d1","status":"current","securityLabel":[{"coding":[{"system":` + confSys + `,"code":"R"}]},{"coding":[{"system":` + actSys + `,"code":"PSY"}]}],` +
		`"content":[{"attachment":{"contentType":"text/plain","data":"eA=="}}],"subject":{"reference":"Patient/p1"}}`
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + doc + `,"request":{"method":"PUT","url":"DocumentReference/d1"}}]}`
	for _, c := range []struct {
		name, format, body, want string
	}{
		{"Observation.ndjson", "fhir-ndjson", obs + "\n", "V,HIV"},
		{"DocumentReference.json", "fhir-json", doc, "R,PSY"},
		{"tx.json", "fhir-json", tx, "R,PSY"},
	} {
		units, err := FHIRJSON{}.Convert(context.Background(), adapters.Raw{Format: c.format, Name: c.name, Body: []byte(c.body)})
		if err != nil {
			t.Fatal(err)
		}
		if len(units) != 1 || units[0].Err != nil {
			t.Fatalf("%s: %d units: %+v", c.name, len(units), units)
		}
		var b struct {
			Meta  *fhir.Meta
			Entry []struct{ Resource json.RawMessage }
		}
		if err := json.Unmarshal(units[0].Bundle, &b); err != nil || len(b.Entry) != 1 {
			t.Fatalf("%s: %s: %v", c.name, units[0].Bundle, err)
		}
		if b.Meta == nil || securityCodes(b.Meta.Security) != c.want {
			t.Errorf("%s: Bundle meta %+v, want %s", c.name, b.Meta, c.want)
		}
		if strings.Contains(c.name, "Observation") && !strings.Contains(string(b.Entry[0].Resource), `"meta":{"security":[{"system":`+confSys+`,"code":"N"}]}`) {
			t.Errorf("%s: resource changed: %s", c.name, b.Entry[0].Resource)
		}
	}
}
