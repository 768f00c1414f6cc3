package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

const (
	confSys = `"http://terminology.hl7.org/CodeSystem/v3-Confidentiality"`
	actSys  = `"http://terminology.hl7.org/CodeSystem/v3-ActCode"`
)

var part2Labels = []fhir.Coding{
	fhir.ConfidentialityCoding(fhir.RankRestricted),
	{System: fhir.SystemActCode, Code: "42CFRPart2"},
}

// TestLabelResource: envelope labels join a resource's meta.security.
// A missing label is added once; a confidentiality code replaces the
// resource's own only when it ranks higher; the resource's other bytes
// (member order, a number's written precision, other meta members) stay.
func TestLabelResource(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // the codes of meta.security, in order
		keep     []string
	}{
		{"no meta", `{"resourceType":"Observation","valueQuantity":{"value":1.50}}`, "R,42CFRPart2", []string{`"value":1.50`}},
		{"null meta", `{"resourceType":"Observation","meta":null}`, "R,42CFRPart2", nil},
		{"meta without security", `{"resourceType":"Observation","meta":{"lastUpdated":"2026-01-02T03:04:05Z"}}`, "R,42CFRPart2", []string{`"lastUpdated":"2026-01-02T03:04:05Z"`}},
		{"lower confidentiality replaced in place", `{"resourceType":"Observation","meta":{"security":[{"system":` + actSys + `,"code":"HIV"},{"system":` + confSys + `,"code":"N"}]}}`, "HIV,R,42CFRPart2", nil},
		{"higher confidentiality kept", `{"resourceType":"Observation","meta":{"security":[{"system":` + confSys + `,"code":"V"}]}}`, "V,42CFRPart2", nil},
		{"label already there", `{"resourceType":"Observation","meta":{"security":[{"system":` + actSys + `,"code":"42CFRPart2","display":"kept as written"},{"system":` + confSys + `,"code":"R"}]}}`, "42CFRPart2,R", []string{`"display":"kept as written"`}},
		{"empty security", `{"resourceType":"Observation","meta":{"security":[]}}`, "R,42CFRPart2", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := labelResource([]byte(tc.in), part2Labels)
			if err != nil {
				t.Fatal(err)
			}
			var r struct{ Meta *fhir.Meta }
			if err := json.Unmarshal(out, &r); err != nil || r.Meta == nil {
				t.Fatalf("%s: %v", out, err)
			}
			if got := securityCodes(r.Meta.Security); got != tc.want {
				t.Errorf("meta.security %s, want %s (%s)", got, tc.want, out)
			}
			for _, k := range tc.keep {
				if !strings.Contains(string(out), k) {
					t.Errorf("%s lost %s", out, k)
				}
			}
		})
	}
	// Nothing to add: the bytes come back as they were.
	in := `{"resourceType":"Observation", "meta":{"security":[{"system":` + confSys + `,"code":"R"},{"system":` + actSys + `,"code":"42CFRPart2"}]}}`
	if out, err := labelResource([]byte(in), part2Labels); err != nil || string(out) != in {
		t.Errorf("already labelled: %s, %v", out, err)
	}
	// A meta.security FHIR would not read cannot take the labels: an
	// error, never the resource without them.
	for _, bad := range []string{
		`{"resourceType":"Observation","meta":{"security":"R"}}`,
		`{"resourceType":"Observation","meta":"R"}`,
		`["not an object"]`,
		// Two members of one name: the receiver may read the other one.
		`{"resourceType":"Observation","meta":{"versionId":"1"},"meta":{"security":[]}}`,
		`{"resourceType":"Observation","meta":{"security":[],"security":[]}}`,
	} {
		if out, err := labelResource([]byte(bad), part2Labels); err == nil {
			t.Errorf("%s: labelled as %s, want an error", bad, out)
		}
	}
}

func securityCodes(cs []fhir.Coding) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Code)
	}
	return strings.Join(out, ",")
}

// TestFHIRJSONEnvelopeLabels: a FHIR resource, a transaction and an
// NDJSON file that an XDM package labels R and 42CFRPart2 go out with
// those labels on every resource, and the wrapping Bundle carries their
// high-water mark (a refrain code stays on the resources only).
func TestFHIRJSONEnvelopeLabels(t *testing.T) {
	meta := map[string]string{xdmfhir.MetaLabels: xdmfhir.LabelsMeta([]xdmfhir.Code{
		{Code: "R", Scheme: "2.16.840.1.113883.5.25"},
		{Code: "42CFRPart2", Scheme: "2.16.840.1.113883.5.4"},
		{Code: "NORDSCLCD", Scheme: "2.16.840.1.113883.5.4"},
	})}
	env, err := xdmfhir.LabelsFromMeta(meta)
	if err != nil || len(env) != 3 {
		t.Fatalf("labels %v: %v", env, err)
	}
	inputs := []adapters.Raw{
		{Format: "fhir-json", Name: "one.json", Meta: meta, Body: []byte(`{"resourceType":"Condition","id":"c1","meta":{"security":[{"system":` + confSys + `,"code":"N"}]},"subject":{"reference":"Patient/p1"}}`)},
		{Format: "fhir-json", Name: "tx.json", Meta: meta, Body: []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` +
			`{"fullUrl":"urn:uuid:6f1c1d9e-8f1b-4d8e-9a55-0d2b1f8c4e01","resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"1"}]},"request":{"method":"POST","url":"Patient"}},` +
			`{"resource":{"resourceType":"Condition","id":"c2","subject":{"reference":"urn:uuid:6f1c1d9e-8f1b-4d8e-9a55-0d2b1f8c4e01"}},"request":{"method":"PUT","url":"Condition/c2"}},` +
			`{"request":{"method":"DELETE","url":"Condition/c0"}}]}`)},
		{Format: "fhir-ndjson", Name: "bulk.ndjson", Meta: meta, Body: []byte(`{"resourceType":"Condition","id":"c3","subject":{"reference":"Patient/p1"}}` + "\n" +
			`{"resourceType":"Condition","id":"c4","subject":{"reference":"Patient/p1"}}` + "\n")},
	}
	bundles := 0
	for _, in := range inputs {
		units, err := FHIRJSON{}.Convert(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
		for _, u := range units {
			if u.Err != nil {
				t.Fatalf("%s %s: %v", in.Name, u.Name, u.Err)
			}
			bundles++
			var b struct {
				Meta  *fhir.Meta
				Entry []struct{ Resource json.RawMessage }
			}
			if err := json.Unmarshal(u.Bundle, &b); err != nil || b.Meta == nil {
				t.Fatalf("%s: bundle %s: %v", in.Name, u.Bundle, err)
			}
			if got := securityCodes(b.Meta.Security); got != "R,42CFRPart2" {
				t.Errorf("%s: Bundle labelled %s, want R,42CFRPart2", in.Name, got)
			}
			for i, e := range b.Entry {
				if e.Resource == nil {
					continue
				}
				var r struct{ Meta *fhir.Meta }
				if err := json.Unmarshal(e.Resource, &r); err != nil || r.Meta == nil {
					t.Fatalf("%s entry %d: %s", in.Name, i+1, e.Resource)
				}
				if got := securityCodes(r.Meta.Security); got != "R,42CFRPart2,NORDSCLCD" {
					t.Errorf("%s entry %d labelled %s, want R,42CFRPart2,NORDSCLCD", in.Name, i+1, got)
				}
			}
		}
	}
	if bundles != 4 {
		t.Errorf("%d bundles, want 4", bundles)
	}

	// Labels METADATA.XML gave that cannot be read: the input is refused
	// (and quarantined whole), not sent without them.
	bad := adapters.Raw{Format: "fhir-json", Name: "bad.json", Meta: map[string]string{xdmfhir.MetaLabels: "{"}, Body: inputs[0].Body}
	if _, err := (FHIRJSON{}).Convert(context.Background(), bad); err == nil {
		t.Error("unreadable envelope labels were not refused")
	}
}

// TestFHIRJSONTransactionHighWaterMark: a transaction exported as it is
// goes out with a Bundle that carries the high-water mark of its entries'
// labels (STANDARDS.md §7: "Bundle and DocumentReference labels carry the
// high-water mark"), as the Bundle ferry wraps one resource in does: the
// highest confidentiality code of them all (raising the Bundle's own N)
// and their sensitivity codes, but no refrain code, with or without an
// envelope's labels.
func TestFHIRJSONTransactionHighWaterMark(t *testing.T) {
	tx := func(bundleMeta string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"transaction",` + bundleMeta + `"entry":[` +
			`{"resource":{"resourceType":"Condition","id":"c1","meta":{"security":[{"system":` + confSys + `,"code":"N"}]},"subject":{"reference":"Patient/p1"}},"request":{"method":"PUT","url":"Condition/c1"}},` +
			`{"resource":{"resourceType":"Condition","id":"c2","meta":{"security":[{"system":` + confSys + `,"code":"R"},{"system":` + actSys + `,"code":"SUD"},{"system":` + actSys + `,"code":"NODSCLCD"}]},"subject":{"reference":"Patient/p1"}},"request":{"method":"PUT","url":"Condition/c2"}},` +
			`{"request":{"method":"DELETE","url":"Condition/c0"}}]}`)
	}
	hiv := map[string]string{xdmfhir.MetaLabels: xdmfhir.LabelsMeta([]xdmfhir.Code{{Code: "HIV", Scheme: "2.16.840.1.113883.5.4"}})}
	for _, tc := range []struct {
		name string
		in   adapters.Raw
		want string
	}{
		{"no bundle meta", adapters.Raw{Format: "fhir-json", Name: "tx.json", Body: tx("")}, "R,SUD"},
		{"bundle labelled N", adapters.Raw{Format: "fhir-json", Name: "tx.json", Body: tx(`"meta":{"security":[{"system":` + confSys + `,"code":"N"}]},`)}, "R,SUD"},
		{"envelope", adapters.Raw{Format: "fhir-json", Name: "tx.json", Meta: hiv, Body: tx("")}, "R,HIV,SUD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			units, err := FHIRJSON{}.Convert(context.Background(), tc.in)
			if err != nil || len(units) != 1 || units[0].Err != nil {
				t.Fatalf("units %+v: %v", units, err)
			}
			var b struct{ Meta *fhir.Meta }
			if err := json.Unmarshal(units[0].Bundle, &b); err != nil {
				t.Fatal(err)
			}
			if b.Meta == nil {
				t.Fatalf("Bundle unlabelled, want %s", tc.want)
			}
			got := strings.Split(securityCodes(b.Meta.Security), ",")
			want := strings.Split(tc.want, ",")
			slices.Sort(got[1:])
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("Bundle labelled %s, want %s", securityCodes(b.Meta.Security), tc.want)
			}
		})
	}
}

// TestFHIRJSONPartsKeepHighWaterMark: a transaction too large for one
// (cut in parts, each with the Patient) has one high-water mark, the
// whole's: every part carries it, so a restricted Part 2 entry in the
// first part holds the others too, as the parts of an HL7 v2 message are
// held with it, rather than sending the rest of the export (which may
// refer to what was held) with a Bundle that says nothing of it.
func TestFHIRJSONPartsKeepHighWaterMark(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"fullUrl":"urn:uuid:6f1c1d9e-8f1b-4d8e-9a55-0d2b1f8c4e01","resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"1"}]},"request":{"method":"POST","url":"Patient"}}`)
	for i := 1; i <= 12; i++ {
		meta := ""
		if i == 1 {
			meta = `"meta":{"security":[{"system":` + confSys + `,"code":"R"},{"system":` + actSys + `,"code":"42CFRPart2"}]},`
		}
		fmt.Fprintf(&sb, `,{"resource":{"resourceType":"Condition","id":"c%d",%s"subject":{"reference":"urn:uuid:6f1c1d9e-8f1b-4d8e-9a55-0d2b1f8c4e01"}},"request":{"method":"PUT","url":"Condition/c%d"}}`, i, meta, i)
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
}
