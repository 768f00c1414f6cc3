package v2fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/internal/golden"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
)

var update = flag.Bool("update", false, "rewrite testdata/convert/*/expected.json from the converter's output")

func testConverter(t testing.TB) *Converter {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	return &Converter{
		Location: loc,
		Systems:  map[string]string{"HOSP": "urn:oid:2.16.840.1.113883.3.999.1"},
	}
}

func marshal(t testing.TB, b *fhir.Bundle) []byte {
	t.Helper()
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

var r4 struct {
	u   *jsonformat.Unmarshaller
	err error
}

// strictR4 parses the bundle with Google's FHIR R4 proto parser, which
// rejects unknown elements, wrong types, bad primitives (dates, ids, codes of
// required bindings) and missing required elements.
func strictR4(t testing.TB, js []byte) {
	t.Helper()
	if r4.u == nil && r4.err == nil {
		r4.u, r4.err = jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	}
	if r4.err != nil {
		t.Fatal(r4.err)
	}
	if _, err := r4.u.Unmarshal(js); err != nil {
		t.Errorf("not valid FHIR R4: %v", err)
	}
}

// TestGolden converts every testdata/convert/<case>/input.hl7 and compares
// with expected.json (go test -run Golden -update rewrites them).
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("../../../testdata/convert/*/input.hl7")
	if len(inputs) == 0 {
		t.Fatal("no golden cases")
	}
	c := testConverter(t)
	for _, in := range inputs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := c.ConvertRaw(raw)
			if err != nil {
				t.Fatal(err)
			}
			got := marshal(t, b)
			strictR4(t, got)
			golden.Check(t, filepath.Join(dir, "expected.json"), got, *update)
		})
	}
}

// resources returns each entry's resource as JSON (struct field order, so
// assertions can match fragments), grouped by type, and checks that every
// PUT URL names the resource's own id.
func resources(t *testing.T, b *fhir.Bundle) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, e := range b.Entry {
		js := toJSON(e.Resource)
		var head struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(js), &head); err != nil {
			t.Fatal(err)
		}
		if e.Request.Method != "PUT" || e.Request.URL != head.ResourceType+"/"+head.ID || e.FullURL != "urn:uuid:"+head.ID {
			t.Errorf("entry %s: request %s %s, fullUrl %s", head.ResourceType, e.Request.Method, e.Request.URL, e.FullURL)
		}
		out[head.ResourceType] = append(out[head.ResourceType], js)
	}
	return out
}

func contains(t *testing.T, what, js string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(js, w) {
			t.Errorf("%s lacks %s:\n%s", what, w, js)
		}
	}
}

func convertFile(t *testing.T, c *Converter, name string) (*fhir.Bundle, Result) {
	t.Helper()
	raw, err := os.ReadFile("../../../testdata/convert/" + name + "/input.hl7")
	if err != nil {
		t.Fatal(err)
	}
	b, res, err := c.ConvertRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b, res
}

// TestMappings pins the facts the golden files show, so a careless
// -update cannot silently change them.
func TestMappings(t *testing.T) {
	c := testConverter(t)
	b, res := convertFile(t, c, "v2-adt-a01")
	if b.Type != "transaction" || b.Identifier.Value != "ADT20240315-0001" || b.Identifier.System != "urn:ferry:epicadt.2.16.840.1.113883.3.999:msh-10" {
		t.Errorf("bundle header: %+v %+v", b.Type, b.Identifier)
	}
	if res.MessageType != "ADT^A01" || res.ControlID != "ADT20240315-0001" || len(res.PatientKey) != 32 || strings.Contains(res.PatientKey, "MRN") {
		t.Errorf("result = %+v", res)
	}
	rs := resources(t, b)
	p := rs["Patient"][0]
	contains(t, "Patient", p,
		`"system":"urn:oid:2.16.840.1.113883.3.999.1","value":"MRN100234"`,
		`"use":"official","family":"Rivera","given":["Ana","Lucia"],"prefix":["Mrs."]`,
		`"use":"nickname"`, `"gender":"female"`, `"birthDate":"1978-02-14"`,
		`"system":"phone","value":"+1 (217) 555-0143","use":"home"`, `"system":"email","value":"ana.rivera@example.org"`,
		`"value":"+1 (217) 555-0199 ext. 12","use":"work"`, `"url":"ombCategory","valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2106-3"`,
		`"code":"2186-5"`, `"use":"home","line":["42 Elm Street","Apt 3B"],"city":"Springfield"`, `"valueString":"Gomez"`)
	if strings.Contains(p, "123-45-6789") {
		t.Error("SSN copied into Patient.identifier")
	}
	contains(t, "Encounter", rs["Encounter"][0], `"code":"IMP"`, `"status":"in-progress"`, `"value":"V2024031500042"`,
		`"start":"2024-03-15T08:00:00-05:00"`, `"code":"ATND"`, `"system":"http://terminology.hl7.org/CodeSystem/v2-0023","code":"7"`,
		`"location":{"display":"SPRINGCLINIC MED 301 B"},"status":"active"`)
	if len(rs["Practitioner"]) != 1 {
		t.Fatalf("Practitioners: %v", rs["Practitioner"])
	}
	contains(t, "Practitioner", rs["Practitioner"][0], `"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567890"`, `"family":"Chen"`)
	contains(t, "Provenance", rs["Provenance"][0], `"code":"assembler"`, `"text":"v2-FHIR transformation"`, `"role":"source"`, `"recorded":"2024-03-15T08:30:00-05:00"`)
	if len(rs["Binary"]) != 1 {
		t.Fatalf("Binary: %v", rs["Binary"])
	}
	contains(t, "Binary", rs["Binary"][0], `"contentType":"x-application/hl7-v2+er7"`)
	contains(t, "MessageHeader", rs["MessageHeader"][0], `"code":"A01"`, `"endpoint":"urn:ferry:app:epicadt"`)

	// Local authorities: configured map, then sender-scoped minted systems.
	b, _ = convertFile(t, c, "v2-adt-a04-local-ids")
	rs = resources(t, b)
	contains(t, "A04 Patient", rs["Patient"][0], `"system":"urn:oid:2.16.840.1.113883.3.999.1","value":"55501"`,
		`"system":"urn:ferry:id:practicex","value":"A-99","assigner":{"display":"PRACTICEX"}`,
		`"birthDate":"2001"`, `"family":"O'Neil"`, `"type":"postal"`)
	contains(t, "A04 Encounter", rs["Encounter"][0], `"code":"AMB"`, `"status":"arrived"`, `"start":"2024-03-15T10:00:00-05:00"`)

	// 8859/1 text decoded; discharge date finishes the encounter.
	b, _ = convertFile(t, c, "v2-adt-a08-latin1")
	rs = resources(t, b)
	contains(t, "latin1 Patient", rs["Patient"][0], "Müller", "Jürgen", "Hauptstraße")
	contains(t, "A08 Encounter", rs["Encounter"][0], `"status":"finished"`, `"code":"EMER"`, `"end":"2024-03-16T11:45:00-05:00"`)
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestObservationValues(t *testing.T) {
	c := testConverter(t)
	b, _ := convertFile(t, c, "v2-oru-r01-cbc")
	rs := resources(t, b)
	if len(rs["DiagnosticReport"]) != 1 || len(rs["Observation"]) != 4 {
		t.Fatalf("got %d reports, %d observations", len(rs["DiagnosticReport"]), len(rs["Observation"]))
	}
	contains(t, "DiagnosticReport", rs["DiagnosticReport"][0], `"status":"final"`, `"code":"58410-2"`, `"code":"FILL"`, `"value":"F-99821"`,
		`"code":"PLAC"`, `"issued":"2024-03-15T14:25:00-05:00"`, `"code":"HM"`)
	if n := strings.Count(rs["DiagnosticReport"][0], `"reference":"`); n != 6 { // subject, its order (basedOn), 4 results (its PV1 names no visit: TestNonADTKeylessVisit)
		t.Errorf("report references: %d", n)
	}
	obs := map[string]string{}
	for _, o := range rs["Observation"] {
		var v struct{ Identifier []fhir.Identifier }
		_ = json.Unmarshal([]byte(o), &v)
		obs[v.Identifier[0].Value] = o
	}
	checks := map[string][]string{
		"acmelab:filler/F-99821.6690-2": {`"valueQuantity":{"value":7.2,"unit":"10*3/uL","system":"http://unitsofmeasure.org","code":"10*3/uL"}`, `"low":{"value":4.0,`, `"high":{"value":11.0,`, `"code":"N"`, `"status":"final"`, `"effectiveDateTime":"2024-03-15T09:15:00-05:00"`, `"issued":"2024-03-15T14:25:00-05:00"`},
		"acmelab:filler/F-99821.718-7":  {`"code":"L"`, `"note":[{"text":"Mild anemia; suggest iron studies."}]`},
		"acmelab:filler/F-99821.777-3":  {`"value":245,`, `"status":"corrected"`},
		"acmelab:filler/F-99821.789-8":  {`"valueQuantity":{"value":3.90,"unit":"10*6/uL"}`},
	}
	check := func(checks map[string][]string) {
		for key, wants := range checks {
			if obs[key] == "" {
				t.Errorf("no Observation with identifier %s (have %v)", key, keys(obs))
				continue
			}
			contains(t, "Observation "+key, obs[key], wants...)
		}
	}
	check(checks)

	b, _ = convertFile(t, c, "v2-oru-r01-value-types")
	rs = resources(t, b)
	obs = map[string]string{}
	for _, o := range rs["Observation"] {
		var v struct{ Identifier []fhir.Identifier }
		_ = json.Unmarshal([]byte(o), &v)
		obs[v.Identifier[0].Value] = o
	}
	pre := "filler/F-10001."
	check(map[string][]string{
		pre + "2345-7":   {`"valueQuantity":{"value":250,"comparator":"\u003e","unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}`, `"status":"preliminary"`, `"code":"H"`},
		pre + "5048-4":   {`"valueRatio":{"numerator":{"value":1},"denominator":{"value":160}}`},
		pre + "2093-3":   {`"valueRange":{"low":{"value":180,`},
		pre + "600-7":    {`"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"112283007","display":"Escherichia coli"}]}`},
		pre + "8251-1":   {`"valueString":"Specimen slightly hemolyzed \u0026 lipemic"`},
		pre + "11526-1":  {`"valueString":"Line one\nLine two | with pipe"`},
		pre + "19146-0":  {`"valueString":"First paragraph\nSecond paragraph"`},
		pre + "11778-8":  {`"valueDateTime":"2024-09-01"`},
		pre + "8665-2":   {`"valueDateTime":"2023-12-01T10:30:00-06:00"`},
		pre + "63901-4":  {`"valueTime":"08:15:00"`},
		pre + "2160-0":   {`"comparator":"\u003c"`, `"value":0.5`},
		pre + "1234-5":   {`"valueString":"pending"`, `"status":"registered"`, `"system":"urn:ferry:acmelab:codesystem:99lab"`},
		pre + "2951-2.1": {`"status":"cancelled"`, `"value":140`},
		pre + "2951-2.2": {`"status":"entered-in-error"`},
	})
	contains(t, "DiagnosticReport", rs["DiagnosticReport"][0], `"status":"preliminary"`, `"code":"LAB"`,
		`"presentedForm":[{"contentType":"application/pdf","data":"JVBERi0xLjQK","size":9,`, `"specimen":[{"reference":"Specimen/`)
	if len(rs["Specimen"]) != 1 {
		t.Fatalf("specimens: %d", len(rs["Specimen"]))
	}
	contains(t, "Specimen", rs["Specimen"][0], `"system":"urn:ferry:acmelab:specimen","value":"SP-7781F"`, `"code":"122555007"`,
		`"receivedTime":"2024-03-16T07:55:00-05:00"`, `"collectedDateTime":"2024-03-16T07:30:00-05:00"`,
		`"quantity":{"value":5,"unit":"milliliter","system":"http://unitsofmeasure.org","code":"mL"}`, `"code":"28520004"`, `"code":"49852007"`)
	contains(t, "specimen observation", obs[pre+"35659-2"], `"specimen":{"reference":"Specimen/`)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

const minimalADT = "MSH|^~\\&|A|F|||20240101120000||ADT^A01|C1|P|2.5\rPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F\r"

func TestErrors(t *testing.T) {
	c := testConverter(t)
	cases := []struct {
		in, field string
	}{
		{"MSH|^~\\&|A|F|||20240101||ADT^A01|C1|P|2.5\rPID|1||||Doe^Jane\r", "PID-3"},
		{"MSH|^~\\&|A|F|||20240101||ADT^A01|C1|P|2.5\rEVN|A01\r", "PID"},
		{"MSH|^~\\&|A|F|||20240101||ADT^A01|C1|P|2.5\rPID|1||1^^^HOSP||Doe||19901301\r", "PID-7"},
		{"MSH|^~\\&|A|F|||20240101||ADT^A01||P|2.5\rPID|1||1^^^HOSP||Doe\r", "MSH-10"},
		{"MSH|^~\\&|A|F|||||ADT^A01|C1|P|2.5\rPID|1||1^^^HOSP||Doe\r", "MSH-7"},
		{"MSH|^~\\&|A|F|||2024||ORU^R01|C1|P|2.5\rPID|1||1^^^HOSP||Doe\rOBR|1||F1|\r", "OBR-4"},
		{"MSH|^~\\&|A|F|||2024||ORU^R01|C1|P|2.5\rPID|1||1^^^HOSP||Doe\rOBR|1||F1|X^Y\rOBX|1|NM|||5\r", "OBX-3"},
		{"MSH|^~\\&|A|F|||2024||ORU^R01|C1|P|2.5\rPID|1||1^^^HOSP||Doe\rOBR|1||F1|X^Y\rOBX|1|DT|A^B||2024133\r", "OBX-5"},
		{"MSH|^~\\&|A|F|||2024||ORU^R01|C1|P|2.5\rPID|1||1^^^HOSP||Doe\r", "OBR"},
	}
	for _, tc := range cases {
		_, _, err := c.ConvertRaw([]byte(tc.in))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%q: error %v, want ContentError on %s", tc.in, err, tc.field)
		}
	}
	_, res, err := c.ConvertRaw([]byte("MSH|^~\\&|A|F|||2024||QRY^A19|C9|P|2.5\r"))
	if !errors.Is(err, ErrUnsupported) || res.MessageType != "QRY^A19" || res.ControlID != "C9" {
		t.Errorf("unsupported: %v %+v", err, res)
	}
	_, _, err = c.ConvertInput(context.Background(), adapters.Raw{Body: []byte("MSH|^~\\&|A|F|||2024||QRY^A19|C9|P|2.5\r")})
	if !queue.IsPermanent(err) || !errors.Is(err, ErrUnsupported) {
		t.Errorf("ConvertInput error not permanent+unsupported: %v", err)
	}
	_, _, err = c.ConvertInput(context.Background(), adapters.Raw{Body: []byte("not hl7")})
	if !queue.IsPermanent(err) || !errors.Is(err, hl7v2.ErrNotHL7) {
		t.Errorf("ConvertInput parse error: %v", err)
	}
	b, _, err := c.ConvertInput(context.Background(), adapters.Raw{Body: []byte(minimalADT)})
	if err != nil || b == nil {
		t.Errorf("ConvertInput: %v", err)
	}
}

func TestConditionalMode(t *testing.T) {
	c := testConverter(t)
	c.Mode = ModeConditional
	b, _, err := c.ConvertRaw([]byte(minimalADT))
	if err != nil {
		t.Fatal(err)
	}
	js := marshal(t, b)
	strictR4(t, js)
	for _, e := range b.Entry {
		rt := e.Request.URL[:strings.IndexAny(e.Request.URL, "/?")]
		switch rt {
		case "Patient":
			if e.Request.URL != "Patient?identifier=urn%3Aoid%3A2.16.840.1.113883.3.999.1%7C123" {
				t.Errorf("patient url %s", e.Request.URL)
			}
			if e.Resource.(*fhir.Patient).ID != "" {
				t.Error("conditional create-by-update must not carry an id")
			}
		case "Provenance", "MessageHeader", "Binary":
			if !strings.Contains(e.Request.URL, "/") {
				t.Errorf("%s without identifier should use its id: %s", rt, e.Request.URL)
			}
		}
	}
}

// TestDeterministic: the same message twice gives identical bytes.
func TestDeterministic(t *testing.T) {
	c := testConverter(t)
	for _, name := range []string{"v2-adt-a01", "v2-oru-r01-cbc", "v2-oru-r01-value-types"} {
		b1, _ := convertFile(t, c, name)
		b2, _ := convertFile(t, c, name)
		if !bytes.Equal(marshal(t, b1), marshal(t, b2)) {
			t.Errorf("%s: output differs between runs", name)
		}
	}
}

// TestMetamorphic: transport-level variations of the same message (line
// endings, BOM, trailing empty fields, an extra Z-segment) give the same
// bundle apart from the Binary holding the original bytes.
func TestMetamorphic(t *testing.T) {
	c := testConverter(t)
	for _, name := range []string{"v2-adt-a01", "v2-oru-r01-cbc", "v2-oru-r01-value-types", "v2-adt-a08-latin1"} {
		raw, err := os.ReadFile("../../../testdata/convert/" + name + "/input.hl7")
		if err != nil {
			t.Fatal(err)
		}
		cr := bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\r")), []byte("\n"), []byte("\r"))
		base := canonical(t, c, cr)
		variants := map[string][]byte{
			"lf":       bytes.ReplaceAll(cr, []byte("\r"), []byte("\n")),
			"crlf":     bytes.ReplaceAll(cr, []byte("\r"), []byte("\r\n")),
			"bom":      append([]byte("\xef\xbb\xbf"), cr...),
			"trailing": addTrailingFields(cr),
			"zseg":     append(append([]byte{}, cr...), "ZXT|1|extra^data|\r"...),
			"nofinal":  bytes.TrimRight(cr, "\r"),
			"blank":    bytes.ReplaceAll(cr, []byte("\r"), []byte("\r\r\n")),
		}
		for vname, v := range variants {
			if got := canonical(t, c, v); !bytes.Equal(got, base) {
				t.Errorf("%s/%s: output differs:\n%s", name, vname, golden.FirstDiff(got, base))
			}
		}
	}
}

func addTrailingFields(msg []byte) []byte {
	segs := bytes.Split(bytes.TrimRight(msg, "\r"), []byte("\r"))
	for i := range segs {
		if i > 0 {
			segs[i] = append(segs[i], "|||"...)
		}
	}
	return append(bytes.Join(segs, []byte("\r")), '\r')
}

// canonical converts raw and blanks the Binary with the original bytes.
func canonical(t *testing.T, c *Converter, raw []byte) []byte {
	t.Helper()
	b, _, err := c.ConvertRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range b.Entry {
		if bin, ok := e.Resource.(*fhir.Binary); ok {
			cp := *bin
			cp.Data = nil
			b.Entry[i].Resource = &cp
		}
	}
	return marshal(t, b)
}

// TestCorpus converts the shared corpus (when present): nothing panics,
// every failure is a typed ContentError or ErrUnsupported, and every bundle
// is valid FHIR R4.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("../../../../shared/corpus/hl7v2/*.hl7")
	if len(files) == 0 {
		t.Skip("shared corpus not present")
	}
	c := testConverter(t)
	type count struct{ converted, unsupported, errors int }
	counts := map[string]*count{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, res, err := c.ConvertRaw(raw)
		typ := res.MessageType
		if typ == "" {
			typ = "(unparsed)"
		}
		if counts[typ] == nil {
			counts[typ] = &count{}
		}
		var ce *ContentError
		switch {
		case err == nil:
			counts[typ].converted++
			js := marshal(t, b)
			strictR4(t, js)
			b2, _, _ := c.ConvertRaw(raw)
			if !bytes.Equal(js, marshal(t, b2)) {
				t.Errorf("%s: not deterministic", filepath.Base(f))
			}
		case errors.Is(err, ErrUnsupported):
			counts[typ].unsupported++
		case errors.As(err, &ce):
			counts[typ].errors++
			t.Logf("%s: %v", filepath.Base(f), err)
		default:
			counts[typ].errors++
			t.Errorf("%s: untyped error %v", filepath.Base(f), err)
		}
	}
	var types []string
	for k := range counts {
		types = append(types, k)
	}
	sort.Strings(types)
	total := count{}
	for _, k := range types {
		n := counts[k]
		total.converted += n.converted
		total.unsupported += n.unsupported
		total.errors += n.errors
		t.Logf("%-9s converted %d unsupported %d error %d", k, n.converted, n.unsupported, n.errors)
	}
	t.Logf("total %d: converted %d, unsupported %d, error %d", len(files), total.converted, total.unsupported, total.errors)
}

func benchmarkFile(b *testing.B, name string, encode bool) {
	raw, err := os.ReadFile("../../../testdata/convert/" + name + "/input.hl7")
	if err != nil {
		b.Fatal(err)
	}
	c := testConverter(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	cpu0 := cpuTime()
	for b.Loop() {
		msg, err := hl7v2.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		bundle, _, err := c.Convert(msg, raw)
		if err != nil {
			b.Fatal(err)
		}
		if encode {
			if _, err := fhir.Marshal(bundle); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	// Process CPU time per message (GC included): unlike ns/op it does
	// not grow when other programs compete for the machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
}

// BenchmarkADT measures parse + convert of an ADT^A01 (8 resources).
func BenchmarkADT(b *testing.B) { benchmarkFile(b, "v2-adt-a01", false) }

// BenchmarkORU measures parse + convert of a 4-result ORU^R01.
func BenchmarkORU(b *testing.B) { benchmarkFile(b, "v2-oru-r01-cbc", false) }

// BenchmarkADTJSON adds encoding the Bundle as JSON (what the queue stores)
// with fhir.Marshal, which gives encoding/json's bytes faster.
func BenchmarkADTJSON(b *testing.B) { benchmarkFile(b, "v2-adt-a01", true) }

// BenchmarkORUJSON adds encoding the Bundle as JSON.
func BenchmarkORUJSON(b *testing.B) { benchmarkFile(b, "v2-oru-r01-cbc", true) }

// TestADTSegments pins NK1, PD1, AL1, DG1, PR1, IN1 and the A40 merge.
func TestADTSegments(t *testing.T) {
	c := testConverter(t)
	b, _ := convertFile(t, c, "v2-adt-a03-segments")
	rs := resources(t, b)
	contains(t, "Patient", rs["Patient"][0], `"contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0063","code":"SPO"`,
		`"code":"EP"`, `"name":{"family":"Rivera","given":["Carlos"]}`, `"generalPractitioner":[{"reference":"Practitioner/`)
	contains(t, "Encounter", rs["Encounter"][0], `"status":"finished"`, `"end":"2024-03-20T16:30:00-05:00"`,
		`"diagnosis":[{"condition":{"reference":"Condition/`, `"rank":2`, `"dischargeDisposition":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0112","code":"01"`)
	if len(rs["AllergyIntolerance"]) != 2 || len(rs["Condition"]) != 2 || len(rs["Procedure"]) != 1 || len(rs["Coverage"]) != 1 || len(rs["Practitioner"]) != 2 {
		t.Fatalf("counts: %d allergies, %d conditions, %d procedures, %d coverages, %d practitioners",
			len(rs["AllergyIntolerance"]), len(rs["Condition"]), len(rs["Procedure"]), len(rs["Coverage"]), len(rs["Practitioner"]))
	}
	contains(t, "Allergy", rs["AllergyIntolerance"][0], `"type":"allergy","category":["medication"]`, `"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7980"`,
		`"reaction":[{"manifestation":[{"text":"Hives"},{"text":"Wheezing"}],"severity":"severe"}]`, `"onsetDateTime":"2010-06-01"`)
	contains(t, "Condition", rs["Condition"][0], `"code":"encounter-diagnosis"`, `"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"J18.9"`, `"encounter":{"reference":"Encounter/`)
	contains(t, "Procedure", rs["Procedure"][0], `"status":"completed"`, `"code":"71045"`, `"performedDateTime":"2024-03-15T10:15:00-05:00"`)
	contains(t, "Coverage", rs["Coverage"][0], `"payor":[{"display":"Blue Cross Blue Shield of Illinois"}]`, `"subscriberId":"XJH123456789"`, `"code":"self"`, `"value":"GRP-5521","name":"Acme Corp"`)

	b, _ = convertFile(t, c, "v2-adt-a40-merge")
	rs = resources(t, b)
	if len(rs["Patient"]) != 2 || len(rs["Encounter"]) != 0 {
		t.Fatalf("merge: %d patients, %d encounters", len(rs["Patient"]), len(rs["Encounter"]))
	}
	contains(t, "surviving", rs["Patient"][0], `"value":"55501"`, `"type":"replaces"`)
	contains(t, "merged", rs["Patient"][1], `"value":"55999"`, `"active":false`, `"type":"replaced-by"`, `"family":"ONeil"`)
}

// TestOrdersAndDocuments pins VXU, ORM, SIU, MDM and RDE conversions.
func TestOrdersAndDocuments(t *testing.T) {
	c := testConverter(t)
	b, _ := convertFile(t, c, "v2-vxu-v04")
	rs := resources(t, b)
	if len(rs["Immunization"]) != 2 {
		t.Fatalf("immunizations: %d", len(rs["Immunization"]))
	}
	contains(t, "Immunization", rs["Immunization"][0], `"status":"completed"`, `"system":"http://hl7.org/fhir/sid/cvx","code":"08"`,
		`"occurrenceDateTime":"2024-04-01T10:15:00-05:00"`, `"primarySource":true`, `"lotNumber":"HB4410A"`,
		`"doseQuantity":{"value":0.5,"unit":"mL","system":"http://unitsofmeasure.org","code":"mL"}`, `"code":"LT"`, `"code":"AP"`)
	contains(t, "refusal", rs["Immunization"][1], `"status":"not-done"`, `"statusReason":{`, `"occurrenceDateTime":"2024-04-01"`,
		// RXA-9 is empty: US Core's primarySource (1..1) is absent with its reason.
		`"_primarySource":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}`)
	if strings.Contains(rs["Immunization"][0], `"_primarySource"`) {
		t.Errorf("RXA-9 00 gives primarySource true and no absent reason: %s", rs["Immunization"][0])
	}

	b, _ = convertFile(t, c, "v2-orm-o01")
	rs = resources(t, b)
	if len(rs["ServiceRequest"]) != 2 {
		t.Fatalf("service requests: %d", len(rs["ServiceRequest"]))
	}
	contains(t, "ServiceRequest", rs["ServiceRequest"][0], `"status":"active","intent":"order","priority":"stat"`, `"code":"24323-8"`,
		`"value":"ORD-5001"`, `"value":"GRP-88"`, `"note":[{"text":"Patient fasting since midnight."}]`, `"code":"E11.9"`, `"requester":{"reference":"Practitioner/`)
	contains(t, "cancelled order", rs["ServiceRequest"][1], `"status":"revoked"`)

	b, _ = convertFile(t, c, "v2-siu-s12")
	rs = resources(t, b)
	contains(t, "Appointment", rs["Appointment"][0], `"status":"booked"`, `"start":"2024-04-10T09:30:00-05:00","end":"2024-04-10T10:00:00-05:00","minutesDuration":30`,
		`"comment":"Bring glucose log."`, `"code":"185389009"`, `"display":"SPRINGCLINIC CLINIC1 Room 4"`, `"status":"accepted"`, `"value":"F-APT-9001"`)

	b, _ = convertFile(t, c, "v2-mdm-t02")
	rs = resources(t, b)
	d := rs["DocumentReference"][0]
	contains(t, "DocumentReference", d, `"masterIdentifier":{"system":"urn:ferry:springclinic:document","value":"DOC-77120"}`,
		`"status":"current","docStatus":"final"`, `"code":"11488-4"`, `"code":"clinical-note"`, `"date":"2024-04-04T15:50:00-05:00"`,
		`"contentType":"text/plain; charset=utf-8"`, `"contentType":"application/pdf"`, `"context":{"encounter":[{"reference":"Encounter/`)
	var doc fhir.DocumentReference
	if err := json.Unmarshal([]byte(d), &doc); err != nil {
		t.Fatal(err)
	}
	if got := string(doc.Content[0].Attachment.Data); got != "Reason for consult: uncontrolled diabetes.\nPlan: start metformin 500 mg twice daily\\titrate." {
		t.Errorf("text content = %q", got)
	}
	if got := string(doc.Content[1].Attachment.Data); !strings.HasPrefix(got, "%PDF-1.4") || doc.Content[1].Attachment.Size != int64(len(got)) || len(doc.Content[1].Attachment.Hash) != 20 {
		t.Errorf("pdf content = %q size %d", got, doc.Content[1].Attachment.Size)
	}

	// A TXA-2 type without a LOINC mapping is US Core's UNK (a required
	// binding), with the v2 code beside it.
	raw, err := os.ReadFile("../../../testdata/convert/v2-mdm-t02/input.hl7")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte("TXA|1|CN^Consultation^HL70270|"), []byte("TXA|1|ZZ^Odd note^HL70270|"), 1)
	ub, _, err := c.ConvertRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	rs = resources(t, ub)
	contains(t, "unknown document type", rs["DocumentReference"][0],
		`"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-NullFlavor","code":"UNK","display":"unknown"},{"system":"http://terminology.hl7.org/CodeSystem/v2-0270","code":"ZZ","display":"Odd note"}]}`)

	b, _ = convertFile(t, c, "v2-rde-o11")
	rs = resources(t, b)
	contains(t, "MedicationRequest", rs["MedicationRequest"][0], `"status":"active","intent":"order"`, `"code":"860975"`,
		`"text":"Take with meals"`, `"code":"BID"`, `"code":"PO"`, `"doseQuantity":{"value":500,"unit":"mg"`,
		`"dispenseRequest":{"numberOfRepeatsAllowed":3,"quantity":{"value":60,"unit":"tablet","system":"http://unitsofmeasure.org","code":"{tbl}"}}`)
}

// FuzzConvert: no input makes the converter panic, and whatever converts
// encodes as JSON.
func FuzzConvert(f *testing.F) {
	inputs, _ := filepath.Glob("../../../testdata/convert/*/input.hl7")
	for _, in := range inputs {
		if raw, err := os.ReadFile(in); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte(minimalADT))
	c := &Converter{Location: time.UTC}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, _, err := c.ConvertRaw(raw)
		if err != nil {
			return
		}
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("converted bundle does not encode: %v", err)
		}
		if os.Getenv("FERRY_FUZZ_STRICT") != "" {
			strictR4(t, js)
		}
	})
}

// TestSplit: a bundle over the limit splits into ordered parts whose
// references are literal, so later parts resolve against earlier ones.
func TestSplit(t *testing.T) {
	c := testConverter(t)
	c.MaxEntries = 5
	raw, err := os.ReadFile("../../../testdata/convert/v2-oru-r01-value-types/input.hl7")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := hl7v2.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	whole, _, err := c.Convert(msg, raw)
	if err != nil {
		t.Fatal(err)
	}
	parts, _, err := c.ConvertParts(msg, raw)
	if err != nil {
		t.Fatal(err)
	}
	want := (len(whole.Entry) + 4) / 5
	if len(parts) != want {
		t.Fatalf("%d parts, want %d", len(parts), want)
	}
	written := map[string]bool{}
	n := 0
	for i, p := range parts {
		if len(p.Entry) > 5 || p.Type != "transaction" || !strings.HasSuffix(p.Identifier.Value, "#"+itoa(i+1)+"/"+itoa(want)) {
			t.Errorf("part %d: %d entries, identifier %v", i, len(p.Entry), p.Identifier)
		}
		js := marshal(t, p)
		strictR4(t, js)
		for _, e := range p.Entry {
			written[e.Request.URL] = true
			n++
		}
		// Every reference names something written by this or an earlier part.
		for _, m := range regexpRef.FindAllStringSubmatch(string(js), -1) {
			if !written[m[1]] {
				t.Errorf("part %d references %s before it is written", i, m[1])
			}
		}
	}
	if n != len(whole.Entry) {
		t.Errorf("parts hold %d entries, whole %d", n, len(whole.Entry))
	}
	c.Mode = ModeConditional
	cparts, _, err := c.ConvertParts(msg, raw)
	// Seeds of at most 8 entries, then the bundle whole (fhir.SplitSeeding).
	if err != nil || len(cparts) < 2 || len(cparts[len(cparts)-1].Entry) != len(whole.Entry) {
		t.Fatalf("conditional mode split: %d parts, %v", len(cparts), err)
	}
	for i, p := range cparts[:len(cparts)-1] {
		if len(p.Entry) > fhir.MaxConditionalEntries {
			t.Errorf("conditional mode seed part %d: %d entries", i, len(p.Entry))
		}
	}
	if _, err := Split(cparts[len(cparts)-1], 3); !errors.Is(err, ErrNotSplittable) {
		t.Errorf("Split of a conditional bundle: %v", err)
	}
}

var regexpRef = regexp.MustCompile(`"reference":"([A-Za-z]+/[0-9a-f-]{36})"`)

// TestPatientFromADTOnly: results then reference the patient without
// overwriting it; ADT messages still write it.
func TestPatientFromADTOnly(t *testing.T) {
	c := testConverter(t)
	c.PatientFromADTOnly = true
	b, _ := convertFile(t, c, "v2-oru-r01-cbc")
	rs := resources(t, b)
	if len(rs["Patient"]) != 0 {
		t.Fatalf("ORU wrote the Patient")
	}
	strictR4(t, marshal(t, b))
	contains(t, "DiagnosticReport", rs["DiagnosticReport"][0], `"subject":{"reference":"Patient/84e51a82-c443-5a2b-a773-b7adc9a7f5cb"}`,
		`"basedOn":[{"reference":"ServiceRequest/e9914494-6888-574f-8d09-3d53b32143bc"}]`)
	if strings.Contains(toJSON(rs["Provenance"][0]), "Patient/") {
		t.Error("Provenance targets a Patient that is not written")
	}
	b, _ = convertFile(t, c, "v2-adt-a01")
	if len(resources(t, b)["Patient"]) != 1 {
		t.Error("ADT did not write the Patient")
	}
}

// TestFastMarshal: fhir.Marshal gives encoding/json's exact bytes for
// every converted bundle, so either may be used to store them.
func TestFastMarshal(t *testing.T) {
	c := testConverter(t)
	inputs, _ := filepath.Glob("../../../testdata/convert/*/input.hl7")
	corpus, _ := filepath.Glob("../../../../shared/corpus/hl7v2/*.hl7")
	for _, in := range append(inputs, corpus...) {
		raw, _ := os.ReadFile(in)
		b, _, err := c.ConvertRaw(raw)
		if err != nil {
			continue
		}
		want, _ := json.Marshal(b)
		got, err := fhir.Marshal(b)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: fhir.Marshal differs from encoding/json (%v)", in, err)
		}
	}
}

// TestAppendOffsetMatchesFormat: the hand-written zone offset is what
// time.Format("-07:00") gives, for whole, half-hour and historical (LMT,
// seconds-valued) offsets on both sides of UTC.
func TestAppendOffsetMatchesFormat(t *testing.T) {
	for _, name := range []string{"UTC", "America/Chicago", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Europe/Amsterdam", "Africa/Monrovia", "Pacific/Kiritimati"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, year := range []int{1850, 1900, 1937, 1970, 2024} {
			for _, month := range []time.Month{1, 7} {
				tm := time.Date(year, month, 1, 12, 0, 0, 0, loc)
				if got, want := string(appendOffset(nil, tm)), tm.Format("-07:00"); got != want {
					t.Errorf("%s %v: %q, want %q", name, tm, got, want)
				}
			}
		}
	}
}
