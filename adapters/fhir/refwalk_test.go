package fhir

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"testing"
)

// rwNode holds references every way the walker reads them: a Reference
// value, pointers, slices of structs and of pointers, an array, itself
// (recursion through a pointer and a slice), Extensions within
// Extensions, an interface, and what the encoder hands to encoding/json
// or a MarshalJSON (a map, json.RawMessage), and fields named
// "reference" that are not Reference.Reference.
type rwNode struct {
	Name   string           `json:"name,omitempty"`
	Ref    Reference        `json:"ref"`
	Ptr    *Reference       `json:"ptr,omitempty"`
	Refs   []Reference      `json:"refs,omitempty"`
	Ptrs   []*Reference     `json:"ptrs,omitempty"`
	Arr    [2]*Reference    `json:"arr"`
	Next   *rwNode          `json:"next,omitempty"`
	Kids   []rwNode         `json:"kids,omitempty"`
	Ext    []Extension      `json:"extension,omitempty"`
	Any    any              `json:"any,omitempty"`
	Raw    json.RawMessage  `json:"raw,omitempty"`
	Map    map[string]any   `json:"map,omitempty"`
	Own    string           `json:"reference,omitempty"` // not a Reference's, but the scan saw it
	Code   *CodeableConcept `json:"code,omitempty"`
	hidden *Reference
}

// rwKeyed has a field named "reference" that is not a plain string.
type rwKeyed struct {
	Reference *string `json:"reference"`
	Other     any     `json:"other"`
}

// rwLoop contains itself but can hold no reference.
type rwLoop struct {
	Next  *rwLoop  `json:"next,omitempty"`
	Kids  []rwLoop `json:"kids,omitempty"`
	Codes []Coding `json:"codes,omitempty"`
	N     int      `json:"reference"` // a number: never "reference":"..."
}

// rwEmbed embeds a struct: the encoder leaves it to encoding/json.
type rwEmbed struct {
	Reference
	Extra *Reference `json:"extra,omitempty"`
}

func scanJSON(t *testing.T, v any) []string {
	t.Helper()
	js, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`"reference":"([^"]*)"`).FindAllSubmatch(js, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// TestRefWalkNestedRecursivePointerSliceInterface: the walker finds, in
// the encoder's order, every reference of values nested through pointers,
// slices, arrays, recursive types and interfaces, and those the encoder
// hands to encoding/json (scanned); types that hold none get an empty
// plan.
func TestRefWalkNestedRecursivePointerSliceInterface(t *testing.T) {
	s := func(v string) *string { return &v }
	deep := Extension{URL: "a", Extension: []Extension{{URL: "b", Extension: []Extension{{URL: "c", ValueReference: &Reference{Reference: "Practitioner/deep"}}}}}}
	n := &rwNode{
		Name: "n",
		Ref:  Reference{Reference: "Patient/1", Identifier: &Identifier{Value: "x", Assigner: &Reference{Reference: "Organization/assigner"}}},
		Ptr:  &Reference{Reference: "Encounter/2"},
		Refs: []Reference{{Reference: "Condition/3"}, {Display: "no reference"}, {Reference: "Condition/4"}},
		Ptrs: []*Reference{nil, {Reference: "Location/5"}},
		Arr:  [2]*Reference{{Reference: "Device/6"}},
		Next: &rwNode{Ref: Reference{Reference: "Patient/next"}, Next: &rwNode{Own: "Group/own"}},
		Kids: []rwNode{{Ext: []Extension{deep}}, {Any: &Observation{ResourceType: "Observation", Subject: &Reference{Reference: "Patient/any"}}}},
		Any:  rwKeyed{Reference: s("Patient/keyed"), Other: map[string]string{"reference": "Patient/map-in-any"}},
		Raw:  json.RawMessage(`{"subject":{"reference":"Patient/raw"}}`),
		Map:  map[string]any{"b": map[string]any{"reference": "Patient/map"}, "a": []any{"x"}},
		Code: &CodeableConcept{Text: "reference"},

		hidden: &Reference{Reference: "Patient/unexported"},
	}
	want := []string{
		"Patient/1", "Organization/assigner", "Encounter/2", "Condition/3", "Condition/4", "Location/5", "Device/6",
		"Patient/next", "Group/own", "Practitioner/deep", "Patient/any",
		"Patient/keyed", "Patient/map-in-any", "Patient/raw", "Patient/map",
	}
	if got := scanJSON(t, n); !slices.Equal(got, want) {
		t.Fatalf("test value: the JSON holds %q, want %q", got, want)
	}
	for _, v := range []any{n, *n, &rwEmbed{Reference: Reference{Reference: "Patient/embedded"}, Extra: &Reference{Reference: "Patient/extra"}}, json.RawMessage(`[{"reference":"A/1"}]`),
		&rwKeyed{}, &rwNode{}, &rwNode{Raw: json.RawMessage{}, Map: map[string]any{}}, &rwLoop{Next: &rwLoop{Kids: []rwLoop{{N: 1}}}}, (*rwNode)(nil), nil} {
		var sink refSink
		if err := walkRefs(v, &sink); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if want := scanJSON(t, v); !slices.Equal(sink.found, want) {
			t.Errorf("%T: walker found %q, the JSON holds %q", v, sink.found, want)
		}
	}

	// Nothing to walk where no reference can be.
	for _, v := range []any{rwLoop{}, &rwLoop{}, CodeableConcept{}, []Coding{}, "Patient/1", 3, &Period{}} {
		if p := refPlanOf(reflect.TypeOf(v)); p.kind != refNone {
			t.Errorf("%T: plan kind %d, want none", v, p.kind)
		}
	}
	// Only the fields that may hold one are walked.
	var names []string
	pt := reflect.TypeFor[Coverage]()
	for _, f := range refPlanOf(pt).st.fields {
		for i := range pt.NumField() {
			if pt.Field(i).Offset == f.offset {
				names = append(names, pt.Field(i).Name)
			}
		}
	}
	if want := []string{"Identifier", "Subscriber", "Beneficiary", "Payor"}; !slices.Equal(names, want) {
		t.Errorf("Coverage walks %q, want %q", names, want)
	}
}

// TestLiteralUnitsAllocs: finding the references of a message cut into
// parts, and ordering it, allocates nothing once its pool is warm.
func TestLiteralUnitsAllocs(t *testing.T) {
	b := &Bundle{ResourceType: "Bundle", Type: "transaction"}
	add := func(url string, r any) {
		b.Entry = append(b.Entry, BundleEntry{Resource: r, Request: &BundleRequest{Method: "PUT", URL: url}})
	}
	add("Patient/p", &Patient{ResourceType: "Patient", ID: "p"})
	add("Encounter/e", &Encounter{ResourceType: "Encounter", ID: "e", Subject: &Reference{Reference: "Patient/p"}, Diagnosis: []EncounterDiagnosis{{Condition: Reference{Reference: "Condition/c"}}}})
	add("Condition/c", &Condition{ResourceType: "Condition", ID: "c", Subject: &Reference{Reference: "Patient/p"}, Encounter: &Reference{Reference: "Encounter/e"}})
	for range 10 {
		add("Observation/o", &Observation{ResourceType: "Observation", Subject: &Reference{Reference: "Patient/p"}, Encounter: &Reference{Reference: "Encounter/e"}})
	}
	skip := func(int) bool { return false }
	units, sc, err := literalUnits(b, skip)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{0}, {1, 2}, {3}}; !slices.EqualFunc(units[:3], want, slices.Equal) {
		t.Fatalf("units %v, want %v first", units, want)
	}
	sc.release()
	if raceEnabled {
		return
	}
	if a := testing.AllocsPerRun(100, func() {
		_, sc, _ := literalUnits(b, skip)
		sc.release()
	}); a != 0 {
		t.Errorf("literalUnits: %v allocations, want none", a)
	}
}
