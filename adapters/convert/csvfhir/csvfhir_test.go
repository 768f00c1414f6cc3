package csvfhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
)

const mrnSystem = "urn:oid:2.16.840.1.113883.3.7777.1"

// checkBundle checks what every transaction must hold: a fullUrl and a
// request on every entry, no entry twice, every urn:uuid reference
// resolved inside the bundle, and the patient key of the bundle's
// patient.
func checkBundle(t *testing.T, p Part) {
	t.Helper()
	b := p.Bundle
	if b.Type != "transaction" || len(b.Entry) == 0 {
		t.Fatalf("bundle type %q with %d entries", b.Type, len(b.Entry))
	}
	full := map[string]bool{}
	urls := map[string]bool{}
	for i, e := range b.Entry {
		if e.FullURL == "" || e.Request == nil || e.Request.URL == "" {
			t.Errorf("entry %d lacks fullUrl or request", i)
			continue
		}
		if full[e.FullURL] || urls[e.Request.URL] {
			t.Errorf("entry %d repeats %s / %s", i, e.FullURL, e.Request.URL)
		}
		full[e.FullURL], urls[e.Request.URL] = true, true
	}
	js, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"reference":"(urn:uuid:[^"]+)"`).FindAllStringSubmatch(string(js), -1) {
		if !full[m[1]] {
			t.Errorf("reference %s resolves to no entry", m[1])
		}
	}
	if p.PatientKey == "" {
		t.Error("no patient key")
	}
}

func labsMapping() *Mapping {
	return &Mapping{Match: "labs*.csv", Resource: "Observation",
		Patient:     &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		DateFormats: []string{"M/D/YYYY H:mm", "M/D/YYYY"}, TimeZone: "America/New_York",
		Columns: Columns{{Header: "LOINC", Path: "code"}, {Header: "Test", Path: "code.display"}, {Header: "Result", Path: "value"},
			{Header: "Units", Path: "valueQuantity.ucum"}, {Header: "Date", Path: "effectiveDateTime"},
			{Header: "Flag", Path: "interpretation", Map: map[string]string{"H": "H", "L": "L", "N": "N"}}},
		Set: map[string]string{"category": "laboratory"}}
}

const labsCSV = "MRN,LOINC,Test,Result,Units,Date,Flag\n" +
	"123,2345-7,Glucose,105,mg/dL,3/4/2024 8:05,H\n" +
	"123,718-7,Hgb,<0.1,g/dL,3/4/2024,\n" +
	"456,2345-7,Glucose,positive,,3/5/2024,N\n"

func observations(parts []Part) []*fhir.Observation {
	var out []*fhir.Observation
	for _, p := range parts {
		for _, e := range p.Bundle.Entry {
			if o, ok := e.Resource.(*fhir.Observation); ok {
				out = append(out, o)
			}
		}
	}
	return out
}

func TestLabs(t *testing.T) {
	parts, err := Convert([]byte(labsCSV), labsMapping(), Options{Base: "urn:ferry:site:test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("%d parts, want one per patient", len(parts))
	}
	for _, p := range parts {
		checkBundle(t, p)
	}
	if parts[0].PatientKey != fhir.PatientKey(mrnSystem, "123") || parts[1].PatientKey != fhir.PatientKey(mrnSystem, "456") {
		t.Error("patient keys are not fhir.PatientKey of the MRN")
	}
	pe := parts[0].Bundle.Entry[0]
	if pe.Request.Method != "POST" || pe.Request.URL != "Patient" || pe.Request.IfNoneExist != fhir.IdentifierQuery(mrnSystem, "123") {
		t.Errorf("patient entry %+v, want a conditional create on the MRN", pe.Request)
	}
	obs := observations(parts)
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	glu, hgb, pos := obs[0], obs[1], obs[2]
	if glu.ValueQuantity == nil || glu.ValueQuantity.Value != "105" || glu.ValueQuantity.System != "http://unitsofmeasure.org" || glu.ValueQuantity.Code != "mg/dL" {
		t.Errorf("glucose value %+v", glu.ValueQuantity)
	}
	if glu.EffectiveDateTime != "2024-03-04T08:05:00-05:00" || hgb.EffectiveDateTime != "2024-03-04" {
		t.Errorf("effective %q %q", glu.EffectiveDateTime, hgb.EffectiveDateTime)
	}
	if glu.Status != "final" || glu.Code.Coding[0].System != "http://loinc.org" || glu.Category[0].Coding[0].Code != "laboratory" {
		t.Errorf("glucose %+v", glu)
	}
	if glu.Subject == nil || glu.Subject.Reference != pe.FullURL {
		t.Errorf("subject %+v, want the patient entry's fullUrl", glu.Subject)
	}
	if hgb.ValueQuantity == nil || hgb.ValueQuantity.Comparator != "<" || hgb.ValueQuantity.Value != "0.1" {
		t.Errorf("hgb value %+v", hgb.ValueQuantity)
	}
	if pos.ValueString != "positive" || pos.ValueQuantity != nil {
		t.Errorf("text value %q %+v", pos.ValueString, pos.ValueQuantity)
	}
	if e := parts[0].Bundle.Entry[1]; e.Request.Method != "PUT" || e.Request.URL != "Observation/"+glu.ID {
		t.Errorf("row request %+v", e.Request)
	}
	if id := glu.Identifier[0]; id.System != "urn:ferry:site:test:csv:observation-key" || len(id.Value) != 64 {
		t.Errorf("minted identifier %+v", id)
	}
}

// The same rows make the same bundles, whatever else changes in the
// file: column order, an added column, another delimiter, line endings.
func TestSameRowsSameResources(t *testing.T) {
	a, err := Convert([]byte(labsCSV), labsMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Convert([]byte(labsCSV), labsMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	reshaped := "Flag;Extra;Date;Units;Result;Test;LOINC;MRN\r\n" +
		"H;x;3/4/2024 8:05;mg/dL;105;Glucose;2345-7;123\r\n" +
		";y;3/4/2024;g/dL;<0.1;Hgb;718-7;123\r\n" +
		"N;z;3/5/2024;;positive;Glucose;2345-7;456\r\n"
	b, err := Convert([]byte(reshaped), labsMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range [][]Part{again, b} {
		if len(other) != len(a) {
			t.Fatalf("%d parts, want %d", len(other), len(a))
		}
		for i := range a {
			x, _ := json.Marshal(a[i].Bundle)
			y, _ := json.Marshal(other[i].Bundle)
			if !bytes.Equal(x, y) {
				t.Errorf("bundle %d differs:\n%s\n%s", i, x, y)
			}
		}
	}
	// A row that says something else is another resource.
	changed, err := Convert([]byte(strings.Replace(labsCSV, ",105,", ",106,", 1)), labsMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if observations(changed)[0].ID == observations(a)[0].ID {
		t.Error("a different result kept the resource id")
	}
	// With an id column, a corrected value updates the same resource.
	m := labsMapping()
	m.Identifier = &ColumnIdentifier{Column: "ResultID", System: "urn:oid:2.16.840.1.113883.3.7777.4.7"}
	withID := "ResultID," + strings.Replace(labsCSV, "\n", "\nR1,", 1)
	withID = strings.Replace(withID, "\n123,718", "\nR2,123,718", 1)
	withID = strings.Replace(withID, "\n456,", "\nR3,456,", 1)
	x, err := Convert([]byte(withID), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	y, err := Convert([]byte(strings.Replace(withID, ",105,", ",106,", 1)), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ox, oy := observations(x)[0], observations(y)[0]
	if ox.ID != oy.ID || ox.Identifier[0] != (fhir.Identifier{System: "urn:oid:2.16.840.1.113883.3.7777.4.7", Value: "R1"}) {
		t.Errorf("id column: ids %s %s, identifier %+v", ox.ID, oy.ID, ox.Identifier)
	}
}

func TestRowErrors(t *testing.T) {
	m := labsMapping()
	m.Columns[0].Required = true
	in := "MRN,LOINC,Test,Result,Units,Date,Flag\n" +
		"123,2345-7,Glucose,105,mg/dL,31/12/2024,H\n" + // day and month swapped
		"123,2345-7,Glucose,105,mg/dL,3/4/2024,HIGH\n" + // not in the map
		"123,,Glucose,105,mg/dL,3/4/2024,H\n" + // required
		",2345-7,Glucose,105,mg/dL,3/4/2024,H\n" + // no patient
		"123,2345-7,\"Glucose\nfasting\",105,mg/dL,3/4/2024\n" + // short, over two lines
		"123,2345-7,Glucose,105,mg/dL,3/4/2024,H\n"
	_, err := Convert([]byte(in), m, Options{})
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want *Error", err)
	}
	want := []string{
		`line 2, column "Date": not a date`,
		`line 3, column "Flag": value not in the column's map`,
		`line 4, column "LOINC": empty, but the column is required`,
		`line 5, column "MRN": no patient identifier`,
		`line 6: 6 fields, but the header has 7`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if !strings.HasPrefix(msg, "5 of 6 rows cannot be mapped") {
		t.Errorf("summary: %s", msg)
	}
	for _, phi := range []string{"31/12/2024", "HIGH", "fasting"} {
		if strings.Contains(msg, phi) {
			t.Errorf("error quotes %q without log_phi:\n%s", phi, msg)
		}
	}
	_, err = Convert([]byte(in), m, Options{LogPHI: true})
	if !strings.Contains(err.Error(), `line 2, column "Date": "31/12/2024": not a date`) || !strings.Contains(err.Error(), `"HIGH"`) {
		t.Errorf("with log_phi the cells are quoted:\n%v", err)
	}

	// The list is bounded.
	var b strings.Builder
	b.WriteString("MRN,LOINC,Test,Result,Units,Date,Flag\n")
	for i := 0; i < 200; i++ {
		b.WriteString("123,2345-7,Glucose,105,mg/dL,yesterday,H\n")
	}
	_, err = Convert([]byte(b.String()), m, Options{})
	if n := strings.Count(err.Error(), "\n  line "); n != MaxListed || !strings.Contains(err.Error(), "... and 150 more") {
		t.Errorf("listed %d rows:\n%.300s", n, err)
	}

	// A column the mapping names that the export lacks fails the file.
	_, err = Convert([]byte("MRN,LOINC,Result\n1,2,3\n"), m, Options{})
	if err == nil || !strings.Contains(err.Error(), `the header lacks the column(s) "Test", "Units", "Date", "Flag" the mapping names (the header has 3 columns;`) {
		t.Errorf("missing columns: %v", err)
	}
	// A file without a header has a row where the header should be: its
	// cells are quoted only with log_phi.
	_, err = Convert([]byte("123,Everyman,105\n"), m, Options{})
	if err == nil || strings.Contains(err.Error(), "Everyman") {
		t.Errorf("headerless: %v", err)
	}
	_, err = Convert([]byte("123,Everyman,105\n"), m, Options{LogPHI: true})
	if err == nil || !strings.Contains(err.Error(), `(the header has "123", "Everyman", "105")`) {
		t.Errorf("headerless with log_phi: %v", err)
	}
	// A broken quote ends the read with its line.
	_, err = Convert([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n1,2,3,4 \"x\" 5,6,7,8\n"), m, Options{})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bare quote: %v", err)
	}
}

func patientsMapping() *Mapping {
	return &Mapping{Match: "p.csv", Resource: "Patient", Identifier: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "Last", Path: "name.family"}, {Header: "First", Path: "name.given"},
			{Header: "Sex", Path: "gender", Map: map[string]string{"M": "male", "F": "female"}}, {Header: "DOB", Path: "birthDate"}}}
}

func onePatient(t *testing.T, in []byte, m *Mapping) *fhir.Patient {
	t.Helper()
	parts, err := Convert(in, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || len(parts[0].Bundle.Entry) != 1 {
		t.Fatalf("%d parts", len(parts))
	}
	e := parts[0].Bundle.Entry[0]
	if e.Request.Method != "PUT" || e.Request.URL != "Patient?"+fhir.IdentifierQuery(mrnSystem, "7") {
		t.Errorf("request %+v, want a conditional update on the MRN", e.Request)
	}
	return e.Resource.(*fhir.Patient)
}

// UTF-8 with and without BOM, UTF-16 with BOM, and Windows-1252 read the
// same; the delimiter is sniffed.
func TestEncodings(t *testing.T) {
	text := "MRN;Last;First;Sex;DOB\r\n7;Müller;Zoë;F;1970-01-02\r\n"
	u16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	u16be, _ := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
	cp, err := charmap.Windows1252.NewEncoder().Bytes([]byte(strings.Replace(text, "Zoë", "Zoë – “Z”", 1)))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"utf-8":     []byte(text),
		"utf-8 bom": append([]byte{0xEF, 0xBB, 0xBF}, text...),
		"utf-16le":  u16,
		"utf-16be":  u16be,
		"cp1252":    cp,
	} {
		t.Run(name, func(t *testing.T) {
			p := onePatient(t, in, patientsMapping())
			if p.Name[0].Family != "Müller" || !strings.HasPrefix(p.Name[0].Given[0], "Zoë") || p.Gender != "female" || p.BirthDate != "1970-01-02" {
				t.Errorf("patient %+v", p.Name)
			}
			if name == "cp1252" && p.Name[0].Given[0] != "Zoë – “Z”" {
				t.Errorf("cp1252 given %q", p.Name[0].Given[0])
			}
		})
	}
	// Declared encodings win over sniffing.
	m := patientsMapping()
	m.Encoding = "iso-8859-1"
	latin, _ := charmap.ISO8859_1.NewEncoder().Bytes([]byte(text))
	if p := onePatient(t, latin, m); p.Name[0].Family != "Müller" {
		t.Errorf("latin-1 family %q", p.Name[0].Family)
	}
	m.Encoding = "utf-8"
	if _, err := Convert(latin, m, Options{}); err == nil || !strings.Contains(err.Error(), "line 2: not valid UTF-8") {
		t.Errorf("declared utf-8: %v", err)
	}
}

func TestSniffDelimiter(t *testing.T) {
	for in, want := range map[string]rune{
		"a,b,c\n1,2,3":          ',',
		"a;b;c\n1,5;2;3":        ';',
		"a\tb\tc\n":             '\t',
		"a|b|c":                 '|',
		`"x;y",b,c` + "\n1;2;3": ',',
		"single":                ',',
	} {
		if got := SniffDelimiter(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestSplitPerPatient(t *testing.T) {
	var b strings.Builder
	b.WriteString("MRN,LOINC,Test,Result,Units,Date,Flag\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "123,2345-7,Glucose,%d,mg/dL,3/4/2024,H\n", 100+i)
	}
	b.WriteString("123,2345-7,Glucose,100,mg/dL,3/4/2024,H\n") // the first row again
	parts, err := Convert([]byte(b.String()), labsMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 20 rows in 7 + 7 + 6 with the patient in each", len(parts))
	}
	rows := 0
	for i, p := range parts {
		checkBundle(t, p)
		if len(p.Bundle.Entry) > fhir.MaxConditionalEntries || p.Index != i+1 || p.Of != 3 || p.PatientKey != parts[0].PatientKey {
			t.Errorf("part %d: %d entries, %d of %d", i, len(p.Bundle.Entry), p.Index, p.Of)
		}
		if _, ok := p.Bundle.Entry[0].Resource.(*fhir.Patient); !ok {
			t.Errorf("part %d does not start with the patient", i)
		}
		rows += p.Rows
	}
	if rows != 20 {
		t.Errorf("%d rows in the parts, want the 20 distinct ones", rows)
	}
	parts, err = Convert([]byte(b.String()), labsMapping(), Options{MaxEntries: 50})
	if err != nil || len(parts) != 1 || len(parts[0].Bundle.Entry) != 21 {
		t.Errorf("max_entries 50: %d parts, %v", len(parts), err)
	}
}

func TestModes(t *testing.T) {
	ids, err := Convert([]byte(labsCSV), labsMapping(), Options{Mode: ModeIDs})
	if err != nil {
		t.Fatal(err)
	}
	e := ids[0].Bundle.Entry[0]
	o := e.Resource.(*fhir.Observation)
	if len(ids[0].Bundle.Entry) != 2 || !strings.HasPrefix(o.Subject.Reference, "Patient/") || e.Request.URL != "Observation/"+o.ID {
		t.Errorf("ids: %d entries, subject %s, request %+v", len(ids[0].Bundle.Entry), o.Subject.Reference, e.Request)
	}
	// The patients file in ModeIDs writes the Patient under the id the
	// rows refer to.
	pts, err := Convert([]byte("MRN,Last,First,Sex,DOB\n123,A,B,M,1970-01-01\n"), patientsMapping(), Options{Mode: ModeIDs})
	if err != nil {
		t.Fatal(err)
	}
	if pe := pts[0].Bundle.Entry[0]; pe.Request.URL != o.Subject.Reference || pe.Resource.(*fhir.Patient).ID == "" {
		t.Errorf("ids: patient written as %s, rows refer to %s", pe.Request.URL, o.Subject.Reference)
	}
	// ... which is the id the HL7 v2 converter gives the patient with that
	// chart number in its ids mode: a patient who arrives by ADT and by
	// CSV is one Patient at the exchange.
	adt := "MSH|^~\\&|EHR|CLINIC|HIE|HIE|20240101120000||ADT^A04|M1|P|2.5\rPID|1||123^^^HOSP^MR||A^B||19700101|M\r"
	v2 := &v2fhir.Converter{Mode: v2fhir.ModeID, Systems: map[string]string{"HOSP": mrnSystem}}
	vb, _, err := v2.ConvertRaw([]byte(adt))
	if err != nil {
		t.Fatal(err)
	}
	for _, ve := range vb.Entry {
		if p, ok := ve.Resource.(*fhir.Patient); ok && "Patient/"+p.ID != o.Subject.Reference {
			t.Errorf("ids: the ADT's Patient is Patient/%s, the CSV's %s", p.ID, o.Subject.Reference)
		}
	}
	// With the ADT feed in charge of demographics, a Patient row only
	// creates a patient the exchange lacks.
	pts, err = Convert([]byte("MRN,Last,First,Sex,DOB\n123,A,B,M,1970-01-01\n"), patientsMapping(), Options{PatientCreateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := pts[0].Bundle.Entry[0].Request; r.Method != "POST" || r.URL != "Patient" || r.IfNoneExist != fhir.IdentifierQuery(mrnSystem, "123") {
		t.Errorf("create only: %+v", r)
	}
	cond, err := Convert([]byte(labsCSV), labsMapping(), Options{Mode: ModeConditional})
	if err != nil {
		t.Fatal(err)
	}
	e = cond[0].Bundle.Entry[1]
	o = e.Resource.(*fhir.Observation)
	if o.ID != "" || e.Request.URL != "Observation?"+fhir.IdentifierQuery(o.Identifier[0].System, o.Identifier[0].Value) {
		t.Errorf("conditional: id %q, request %+v", o.ID, e.Request)
	}
	checkBundle(t, cond[0])
}

func TestSecurityLabels(t *testing.T) {
	m := labsMapping()
	m.Security = []string{"PSY"}
	parts, err := Convert([]byte(labsCSV), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "R", Display: "restricted"},
		{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "PSY"}}
	p := parts[0]
	if fmt.Sprint(p.Labels) != fmt.Sprint(want) || fmt.Sprint(p.Bundle.Meta.Security) != fmt.Sprint(want) {
		t.Errorf("labels %v, bundle %v", p.Labels, p.Bundle.Meta)
	}
	if o := observations(parts)[0]; o.Meta == nil || fmt.Sprint(o.Meta.Security) != fmt.Sprint(want) {
		t.Errorf("resource labels %+v", o.Meta)
	}
}

func TestValidate(t *testing.T) {
	var m Mapping
	err := yaml.Unmarshal([]byte(`
match: "labs[.csv"
resource: Observation
delimiter: ":"
encoding: ebcdic
date_formats: ["DD/MM/YY"]
time_zone: Mars/Olympus
patient: {column: MRN, system: "2.16.840.1.113883.3.7777.1"}
identifier: {column: ResultID}
columns:
  LOINC: code
  Foo: valueQuantiy.value
  Result: value
  Text: valueString
  Sex: {path: status, map: {X: done}}
set:
  category: lab
  nope: 1
security: [R, V, NOPE]
`), &m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range m.Validate() {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, w := range []string{
		"match: not a valid glob",
		`delimiter: must be one of`,
		`encoding: must be one of`,
		`date_formats[0]: date format "DD/MM/YY": "Y" is neither a token`,
		"time_zone: unknown time zone Mars/Olympus",
		`patient.system: "2.16.840.1.113883.3.7777.1" is an OID; write it as urn:oid:2.16.840.1.113883.3.7777.1`,
		`columns.Foo: unknown path "valueQuantiy.value" for Observation; known paths: bodySite.text, category, code`,
		`columns.Sex.map.X: not one of registered, preliminary`,
		"set.category: not one of",
		`set.nope: unknown path "nope"`,
		`security: "NOPE" is not a v3-Confidentiality or v3-ActCode security code`,
		"security: give at most one confidentiality code",
		"columns: map one of value, valueQuantity.value and valueString",
		"identifier.system: must be the system of the export's row ids",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("problems lack %q:\n%s", w, all)
		}
	}

	var p Mapping
	_ = yaml.Unmarshal([]byte("match: x.csv\nresource: Patient\ncolumns: {DOB: birthDate}\n"), &p)
	all = fmt.Sprint(p.Validate())
	for _, w := range []string{"identifier: a Patient needs its identifier", "columns: a Patient needs name.family or name.given or name.text"} {
		if !strings.Contains(all, w) {
			t.Errorf("patient problems lack %q: %s", w, all)
		}
	}
	var c Mapping
	_ = yaml.Unmarshal([]byte("match: x.csv\nresource: Condition\npatient: {column: MRN, system: 'urn:oid:1.2'}\ncolumns: {ICD: code}\n"), &c)
	if all := fmt.Sprint(c.Validate()); !strings.Contains(all, "set.code.system: Condition codes come from several code systems") {
		t.Errorf("condition problems: %s", all)
	}
}

// Column options are strict like the rest of the configuration, and the
// columns keep the order written.
func TestColumnsYAML(t *testing.T) {
	var m Mapping
	dec := yaml.NewDecoder(strings.NewReader("columns:\n  B: name.given\n  A: {path: name.given, requird: true}\n  C: [x]\n"))
	dec.KnownFields(true)
	err := dec.Decode(&m)
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) != 2 || !strings.Contains(te.Errors[0], "line 3: field requird not found") || !strings.Contains(te.Errors[1], "line 4: column \"C\"") {
		t.Fatalf("got %v", err)
	}
	if err := yaml.Unmarshal([]byte("columns:\n  Z: name.given\n  A: {path: name.given, required: true, map: {a: b}}\n  M: name.family\n"), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Columns) != 3 || m.Columns[0].Header != "Z" || m.Columns[1].Header != "A" || !m.Columns[1].Required || m.Columns[1].Map["a"] != "b" || m.Columns[2].Path != "name.family" {
		t.Errorf("columns %+v", m.Columns)
	}
}

func TestDates(t *testing.T) {
	for _, c := range []struct {
		format, in, want string
		dateOnly         bool
	}{
		{"M/D/YYYY", "3/4/2024", "2024-03-04", false},
		{"M/D/YYYY", "03/04/2024", "2024-03-04", false},
		{"DD.MM.YYYY HH:mm", "04.03.2024 14:30", "2024-03-04T14:30:00+01:00", false},
		{"DD.MM.YYYY HH:mm", "04.03.2024 14:30", "2024-03-04", true},
		{"MM/DD/YYYY hh:mm A", "03/04/2024 02:30 PM", "2024-03-04T14:30:00+01:00", false},
		{"YYYY-MM-DDTHH:mm:ssZ", "2024-07-01T10:00:00-04:00", "2024-07-01T10:00:00-04:00", false},
		{"YYYY-MM", "2024-07", "2024-07", false},
		{"YYYYMMDD", "20240229", "2024-02-29", false},
	} {
		l, err := ParseLayout(c.format)
		if err != nil {
			t.Fatal(err)
		}
		dp := &cellReader{layouts: []Layout{l}, loc: mustLoc(t, "Europe/Berlin")}
		got, err := dp.parse(c.in, c.dateOnly)
		if err != nil || got != c.want {
			t.Errorf("%s %q: %q %v, want %q", c.format, c.in, got, err, c.want)
		}
	}
	dp := defaultDates
	// An offset past ±14:00 (found by FuzzDates) is no FHIR dateTime.
	for _, bad := range []string{"2023-02-29", "3/4/2024", "yesterday", "2024-13-01", "2024-07-01T10:00:00+23:59", "2024-07-01T10:00:00-14:01"} {
		if got, err := dp.parse(bad, false); err == nil {
			t.Errorf("%q parsed as %q", bad, got)
		}
	}
	for _, f := range []string{"DD/MM", "YYYY-MM-DD mm", "YYYY hh:mm", "YYYY-MM-DDZ", "YYYY-DD"} {
		if _, err := ParseLayout(f); err == nil {
			t.Errorf("format %q accepted", f)
		}
	}
}

func TestDecimal(t *testing.T) {
	for in, want := range map[string]string{"5.40": "5.40", "+3": "3", "-0": "0", "007.5": "7.5", ".5": "0.5", "-1.25": "-1.25"} {
		if got, ok := decimal(in); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "1,5", "5.", "-", "1.2.3", "abc"} {
		if got, ok := decimal(in); ok {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}

// With decimal_separator ",", 5,4 is a number and 1.234,5 an error, not
// a thousand.
func TestDecimalComma(t *testing.T) {
	m := labsMapping()
	m.DecimalSeparator = ","
	m.Columns = append(m.Columns, Column{Header: "Low", Path: "referenceRange.low"})
	in := "MRN;LOINC;Test;Result;Units;Date;Flag;Low\n" +
		"123;2345-7;Glucose;5,4;mmol/L;3/4/2024;N;3,9\n" +
		"123;718-7;Hgb;<0,1;g/dL;3/4/2024;N;\n" +
		"123;718-7;Hgb;positiv;;3/4/2024;N;\n"
	parts, err := Convert([]byte(in), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	obs := observations(parts)
	if q := obs[0].ValueQuantity; q == nil || q.Value != "5.4" || obs[0].ReferenceRange[0].Low.Value != "3.9" {
		t.Errorf("5,4: %+v", obs[0])
	}
	if q := obs[1].ValueQuantity; q == nil || q.Value != "0.1" || q.Comparator != "<" {
		t.Errorf("<0,1: %+v", q)
	}
	if obs[2].ValueString != "positiv" {
		t.Errorf("text: %q", obs[2].ValueString)
	}
	_, err = Convert([]byte(strings.Replace(in, ";3,9", ";1.234,5", 1)), m, Options{})
	if err == nil || !strings.Contains(err.Error(), `line 2, column "Low": not a number (digits with an optional sign and decimal comma)`) {
		t.Errorf("1.234,5: %v", err)
	}
}

func TestMatch(t *testing.T) {
	ms := []Mapping{{Match: "patients*.csv"}, {Match: "labs_??.csv"}, {Match: "*.csv"}}
	for name, want := range map[string]int{
		"patients.csv": 0, "Patients_2024.CSV": 0, "export/labs_01.csv": 1, `C:\x\labs_02.csv`: 1,
		"labs_123.csv": 2, "notes.txt": -1,
	} {
		if got := Match(ms, name); got != want {
			t.Errorf("%s: %d, want %d", name, got, want)
		}
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestMintedIdentifierIgnoresZone: a row without an id column is keyed by
// its time as written, so the gateway's (or the mapping's) time zone moves
// the instant written, not the resource: a move to another zone updates
// the same Observation instead of adding a second one.
func TestMintedIdentifierIgnoresZone(t *testing.T) {
	ny := labsMapping()
	berlin := labsMapping()
	berlin.TimeZone = "Europe/Berlin"
	a, err := Convert([]byte(labsCSV), ny, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Convert([]byte(labsCSV), berlin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	oa, ob := observations(a)[0], observations(b)[0]
	if oa.ID != ob.ID || oa.Identifier[0] != ob.Identifier[0] {
		t.Errorf("ids %s / %s, identifiers %v / %v", oa.ID, ob.ID, oa.Identifier, ob.Identifier)
	}
	if oa.EffectiveDateTime != "2024-03-04T08:05:00-05:00" || ob.EffectiveDateTime != "2024-03-04T08:05:00+01:00" {
		t.Errorf("effective %s / %s", oa.EffectiveDateTime, ob.EffectiveDateTime)
	}
	for in, want := range map[string]string{"2024-03-04T08:05:00-05:00": "2024-03-04T08:05:00", "2024-03-04T08:05:00Z": "2024-03-04T08:05:00",
		"2024-03-04T08:05:00.123+05:30": "2024-03-04T08:05:00.123", "2024-03-04": "2024-03-04", "105": "105"} {
		if got := wallClock(in); got != want {
			t.Errorf("wallClock(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDecimalCommaValueWithPoint: with decimal_separator ",", README has
// "a '.' in a number is then an error", and a referenceRange.low of
// 1.234 was one; in the value column 1.234 (a thousand two hundred and
// thirty-four, or one point two three four?) and 5.4 went to the
// exchange as the text "1.234", without its unit. They are now the
// same row error.
func TestDecimalCommaValueWithPoint(t *testing.T) {
	m := labsMapping()
	m.DecimalSeparator = ","
	in := "MRN;LOINC;Test;Result;Units;Date;Flag\n" +
		"123;2345-7;Glucose;1.234;mmol/L;3/4/2024;N\n" +
		"123;718-7;Hgb;<0.1;g/dL;3/4/2024;N\n" +
		"123;718-7;Hgb;5,4;g/dL;3/4/2024;N\n" +
		"123;718-7;Hgb;Hämolyse 1.Grades;;3/4/2024;N\n"
	_, err := Convert([]byte(in), m, Options{})
	var fe *Error
	if !errors.As(err, &fe) || len(fe.Rows) != 2 {
		t.Fatalf("err %v, want lines 2 and 3 refused", err)
	}
	for i, line := range []int{2, 3} {
		if r := fe.Rows[i]; r.Line != line || r.Column != "Result" || !strings.Contains(r.Msg, "decimal comma") {
			t.Errorf("error %d: %s, want line %d, column Result, decimal comma", i, r, line)
		}
	}
}

// TestSecurityLabelsOnPatientEntry: a mapping's security labels every
// resource from its files (README: "labels on every resource and
// bundle"), the Patient a clinical row's file creates when the exchange
// has none too, as a fax's or an HL7 v2 message's labels label their
// Patient: created from a PSY file, it is no less restricted than the
// rows.
func TestSecurityLabelsOnPatientEntry(t *testing.T) {
	m := labsMapping()
	m.Security = []string{"R", "PSY"}
	parts, err := Convert([]byte(labsCSV), m, Options{Mode: ModePatientConditional})
	if err != nil {
		t.Fatal(err)
	}
	want := []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "R", Display: "restricted"},
		{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "PSY"}}
	patients := 0
	for _, p := range parts {
		for _, e := range p.Bundle.Entry {
			pt, ok := e.Resource.(*fhir.Patient)
			if !ok {
				continue
			}
			patients++
			if pt.Meta == nil || fmt.Sprint(pt.Meta.Security) != fmt.Sprint(want) {
				t.Errorf("Patient entry labels %+v, want %v", pt.Meta, want)
			}
		}
	}
	if patients == 0 {
		t.Fatal("no Patient entry")
	}
}
