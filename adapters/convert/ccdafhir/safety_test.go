package ccdafhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

func readCase(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../../testdata/convert/" + name + "/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestRejectsEntityDeclarations: the billion-laughs bomb and an external
// entity (XXE) must fail before any expansion or fetch.
func TestRejectsEntityDeclarations(t *testing.T) {
	bomb := `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol2;</title></ClinicalDocument>`
	xxe := `<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>`
	for name, doc := range map[string]string{"bomb": bomb, "xxe": xxe} {
		_, _, err := Convert(strings.NewReader(doc), Options{})
		if !errors.Is(err, ErrEntity) {
			t.Errorf("%s: err = %v, want ErrEntity", name, err)
		}
	}
	// An undeclared entity is a syntax error, never expanded.
	undeclared := `<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&foo;</title></ClinicalDocument>`
	if _, _, err := Convert(strings.NewReader(undeclared), Options{}); err == nil {
		t.Error("undeclared entity accepted")
	}
}

// TestSizeLimit: input beyond MaxBytes is refused without reading it all.
func TestSizeLimit(t *testing.T) {
	raw := readCase(t, "ccda-allergy")
	_, _, err := Convert(bytes.NewReader(raw), Options{MaxBytes: int64(len(raw) - 1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if _, _, err := Convert(bytes.NewReader(raw), Options{MaxBytes: int64(len(raw))}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

// TestErrorsNamePath: structural problems name the element path.
func TestErrorsNamePath(t *testing.T) {
	cases := map[string]struct{ doc, path string }{
		"not cda":    {`<Bundle xmlns="http://hl7.org/fhir"/>`, "/Bundle"},
		"no patient": {`<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3"/></ClinicalDocument>`, "/ClinicalDocument/recordTarget"},
		"broken entry": {strings.Replace(string(readCase(t, "ccda-problem")), "</observation>", "</observatio>", 1),
			"/ClinicalDocument/component/structuredBody/component[1]/section/entry[1]"},
		"empty": {``, "/"},
	}
	for name, tc := range cases {
		_, _, err := Convert(strings.NewReader(tc.doc), Options{})
		var pe *PathError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want *PathError", name, err)
			continue
		}
		if pe.Path != tc.path {
			t.Errorf("%s: path = %q, want %q (%v)", name, pe.Path, tc.path, err)
		}
	}
}

// TestDeterministicAndIdempotentShape: the same document twice gives the
// same bytes, every entry is a PUT to its own id (in ModeConditional a
// conditional update, but for the Binary and the Provenance, which have
// no identifier), and no two entries share a fullUrl.
func TestDeterministicAndIdempotentShape(t *testing.T) {
	raw := readCase(t, "ccda-encounter")
	for _, mode := range []Mode{ModePutID, ModeConditional} {
		b1, _, err := ConvertBytes(raw, Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		b2, _, _ := ConvertBytes(append([]byte(nil), raw...), Options{Mode: mode})
		j1, _ := json.Marshal(b1)
		j2, _ := json.Marshal(b2)
		if !bytes.Equal(j1, j2) {
			t.Fatalf("mode %d: not deterministic", mode)
		}
		urls := map[string]bool{}
		for _, e := range b1.Entry {
			if urls[e.FullURL] {
				t.Errorf("duplicate fullUrl %s", e.FullURL)
			}
			urls[e.FullURL] = true
			if e.Request == nil || e.Request.Method != "PUT" {
				t.Errorf("%s: request %+v, want PUT", e.FullURL, e.Request)
			}
			typ := resourceType(t, e)
			if mode == ModeConditional && typ != "Binary" && typ != "Provenance" && !strings.HasPrefix(e.Request.URL, typ+"?identifier=") {
				t.Errorf("conditional url %q", e.Request.URL)
			}
			if mode == ModePutID && e.Request.URL != typ+"/"+strings.TrimPrefix(e.FullURL, "urn:uuid:") {
				t.Errorf("put url %q for %s", e.Request.URL, e.FullURL)
			}
		}
		checkReferences(t, b1)
	}
}

// resourceType reads an entry's resourceType via JSON.
func resourceType(t *testing.T, e fhir.BundleEntry) string {
	js, _ := json.Marshal(e.Resource)
	var x struct{ ResourceType string }
	if err := json.Unmarshal(js, &x); err != nil {
		t.Fatal(err)
	}
	return x.ResourceType
}

// checkReferences asserts every reference in the bundle resolves to an
// entry of the bundle (by Type/id or by fullUrl).
func checkReferences(t *testing.T, b *fhir.Bundle) {
	t.Helper()
	have := map[string]bool{}
	for _, e := range b.Entry {
		have[e.FullURL] = true
		have[resourceType(t, e)+"/"+strings.TrimPrefix(e.FullURL, "urn:uuid:")] = true
	}
	js, _ := json.Marshal(b)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				if s, ok := y.(string); ok && (k == "reference" || (k == "url" && strings.HasPrefix(s, "Binary/"))) {
					if !have[s] {
						t.Errorf("unresolved reference %s", s)
					}
				}
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	var root any
	_ = json.Unmarshal(js, &root)
	walk(root)
}

// TestSSNPolicy: an SSN is normalised and kept only when it is the sole
// identifier, unless told otherwise.
func TestSSNPolicy(t *testing.T) {
	raw := readCase(t, "ccda-allergy")
	only := bytes.Replace(raw, []byte(`<id root="2.16.840.1.113883.19.5.99999.2" extension="MRN-ALG1"/>`), nil, 1)
	for _, tc := range []struct {
		doc  []byte
		opts Options
		want bool
	}{
		{raw, Options{}, false},
		{raw, Options{SSN: SSNKeep}, true},
		{only, Options{}, true},
		{only, Options{SSN: SSNDrop}, false},
	} {
		b, _, err := ConvertBytes(tc.doc, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		p := b.Entry[0].Resource.(*fhir.Patient)
		got := false
		for _, id := range p.Identifier {
			if id.System == "http://hl7.org/fhir/sid/us-ssn" {
				got = true
				if id.Value != "123456789" {
					t.Errorf("ssn value %q not normalised", id.Value)
				}
			}
		}
		if got != tc.want {
			t.Errorf("opts %+v: ssn present = %v, want %v", tc.opts, got, tc.want)
		}
	}
}

// TestPatientScopedIDs: the same entry id in another document of the same
// patient is the same resource (de-duplicated at the receiver), but in a
// document of another patient it is a different one.
func TestPatientScopedIDs(t *testing.T) {
	raw := readCase(t, "ccda-problem")
	otherDoc := bytes.Replace(raw, []byte(`extension="PRB1"/>`), []byte(`extension="PRB9"/>`), 1)
	otherPatient := bytes.Replace(otherDoc, []byte(`extension="MRN-PRB1"`), []byte(`extension="MRN-OTHER"`), 1)
	ids := func(doc []byte) map[string]string {
		b, _, err := ConvertBytes(doc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, e := range b.Entry {
			if c, ok := e.Resource.(*fhir.Condition); ok {
				out[c.Identifier[0].Value] = c.ID
			}
		}
		return out
	}
	a, b, c := ids(raw), ids(otherDoc), ids(otherPatient)
	if len(a) != 2 {
		t.Fatalf("conditions: %v", a)
	}
	for k, id := range a {
		if b[k] != id {
			t.Errorf("same patient, other document: %s got id %s, want %s", k, b[k], id)
		}
		if c[k] == id || c[k] == "" {
			t.Errorf("other patient: %s shares id %s", k, id)
		}
	}
}

// TestEncodings: ISO-8859-1 and windows-1252 declarations and a UTF-8 BOM
// are read correctly.
func TestEncodings(t *testing.T) {
	raw := readCase(t, "ccda-allergy")
	name := func(doc []byte) string {
		b, _, err := ConvertBytes(doc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b.Entry[0].Resource.(*fhir.Patient).Name[0].Family
	}
	latin := bytes.Replace(raw, []byte(`encoding="UTF-8"`), []byte(`encoding="ISO-8859-1"`), 1)
	latin = bytes.Replace(latin, []byte("Everywoman"), []byte("M\xfcller"), 1)
	if got := name(latin); got != "Müller" {
		t.Errorf("latin-1: %q", got)
	}
	cp := bytes.Replace(latin, []byte(`ISO-8859-1`), []byte(`windows-1252`), 1)
	if got := name(cp); got != "Müller" {
		t.Errorf("windows-1252: %q", got)
	}
	bom := append([]byte("\xef\xbb\xbf"), raw...)
	if got := name(bom); got != "Everywoman" {
		t.Errorf("bom: %q", got)
	}
}

// TestMedicationRequestsOnly: with the option, a taken medication (EVN)
// is a MedicationRequest with intent plan, as C-CDA on FHIR maps it.
func TestMedicationRequestsOnly(t *testing.T) {
	b, res, err := ConvertBytes(readCase(t, "ccda-medication"), Options{MedicationRequestsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts["MedicationStatement"] != 0 || res.Counts["MedicationRequest"] != 2 {
		t.Fatalf("counts %v", res.Counts)
	}
	intents := map[string]bool{}
	for _, e := range b.Entry {
		if r, ok := e.Resource.(*fhir.MedicationRequest); ok {
			intents[r.Intent] = true
		}
	}
	if !intents["plan"] || !intents["order"] {
		t.Errorf("intents %v, want plan and order", intents)
	}
}

// TestGenderFallback: a patient whose document gives no gender, or a code
// outside AdministrativeGender, is "unknown" (US Core 6.1 makes gender
// 1..1), never absent.
func TestGenderFallback(t *testing.T) {
	raw := readCase(t, "ccda-allergy")
	re := regexp.MustCompile(`<administrativeGenderCode[^>]*/>`)
	if !re.Match(raw) {
		t.Fatal("fixture has no administrativeGenderCode")
	}
	for _, tc := range []struct{ repl, want string }{
		{`<administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>`, "female"},
		{``, "unknown"},
		{`<administrativeGenderCode nullFlavor="UNK"/>`, "unknown"},
		{`<administrativeGenderCode code="X" codeSystem="2.16.840.1.113883.5.1"/>`, "unknown"},
	} {
		b, _, err := ConvertBytes(re.ReplaceAll(raw, []byte(tc.repl)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Entry[0].Resource.(*fhir.Patient).Gender; got != tc.want {
			t.Errorf("%q: gender %q, want %q", tc.repl, got, tc.want)
		}
	}
}

// TestDocumentTypeBinding: DocumentReference.type holds a code US Core's
// required binding takes even when the document's own code is local: the
// template's LOINC code (a CCD's 34133-9), the local code kept beside it;
// and the template's code beside a LOINC code other than its own.
func TestDocumentTypeBinding(t *testing.T) {
	raw := readCase(t, "ccda-allergy")
	orig := []byte(`<code code="34133-9" codeSystem="2.16.840.1.113883.6.1" displayName="Summarization of Episode Note"/>`)
	if !bytes.Contains(raw, orig) {
		t.Fatal("fixture's document code changed")
	}
	for _, tc := range []struct{ code, want string }{
		{string(orig), "http://loinc.org|34133-9"},
		{`<code code="CCD-LOCAL" codeSystem="1.2.3.4.5" displayName="Local summary"/>`, "http://loinc.org|34133-9,urn:oid:1.2.3.4.5|CCD-LOCAL"},
		// A LOINC code the CCD template does not name (a typo, another
		// kind of note) is kept, the template's code after it.
		{`<code code="34113-1" codeSystem="2.16.840.1.113883.6.1"/>`, "http://loinc.org|34113-1,http://loinc.org|34133-9"},
	} {
		b, _, err := ConvertBytes(bytes.Replace(raw, orig, []byte(tc.code), 1), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range b.Entry {
			if d, ok := e.Resource.(*fhir.DocumentReference); ok {
				for _, c := range d.Type.Coding {
					got = append(got, c.System+"|"+c.Code)
				}
			}
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: type %v, want %s", tc.code, got, tc.want)
		}
	}
	if got := documentType(nil, "Unstructured Document"); got.Coding[0].Code != "UNK" {
		t.Errorf("unstructured without a code: %+v", got)
	}
}
