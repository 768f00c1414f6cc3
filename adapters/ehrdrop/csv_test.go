package ehrdrop

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/encoding/charmap"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

const csvMRN = "urn:oid:2.16.840.1.113883.3.7777.1"

// csvMappings is an EHR drop's csv section as a clinic would write it.
func csvMappings(t *testing.T) []csvfhir.Mapping {
	t.Helper()
	var ms []csvfhir.Mapping
	dec := yaml.NewDecoder(strings.NewReader(`
- match: "patients*.csv"
  resource: Patient
  date_formats: ["M/D/YYYY"]
  identifier: {column: MRN, system: "` + csvMRN + `"}
  columns:
    LastName: name.family
    FirstName: name.given
    DOB: birthDate
    Sex: {path: gender, map: {M: male, F: female, U: unknown}}
- match: "labs*.csv"
  resource: Observation
  date_formats: ["M/D/YYYY H:mm", "M/D/YYYY"]
  time_zone: America/Chicago
  patient: {column: MRN, system: "` + csvMRN + `"}
  columns:
    LOINC: code
    Test: code.display
    Result: value
    Units: valueQuantity.ucum
    Collected: effectiveDateTime
  set: {category: laboratory}
`))
	dec.KnownFields(true)
	if err := dec.Decode(&ms); err != nil {
		t.Fatal(err)
	}
	return ms
}

const (
	patientsCSV = "MRN,LastName,FirstName,DOB,Sex\n" +
		"10045,Everyman,Adam,4/7/1954,M\n" +
		"10046,Müller,Zoë,11/30/1988,F\n"
	labsCSV = "MRN,LOINC,Test,Result,Units,Collected\n" +
		"10045,2345-7,Glucose,105,mg/dL,3/4/2024 8:05\n" +
		"10045,718-7,Hemoglobin,13.9,g/dL,3/4/2024 8:05\n" +
		"10046,5196-1,HBsAg,Negative,,3/5/2024\n"
)

// newCSVPipeline is the gateway's pipeline for an EHR drop named "ehr"
// with the csv mappings ms, over an in-memory queue.
func newCSVPipeline(t *testing.T, ms []csvfhir.Mapping) (*pipeline.Pipeline, *memQueue) {
	t.Helper()
	quar, err := pipeline.OpenQuarantine(filepath.Join(t.TempDir(), "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	q := &memQueue{}
	return pipeline.New(q, &memSeen{}, quar, map[string]pipeline.Converter{
		FormatCSV:        pipeline.CSV{Folders: map[string][]csvfhir.Mapping{"ehr": ms}},
		FormatFHIRNDJSON: pipeline.FHIRJSON{},
	}, nil), q
}

func startCSVSource(t *testing.T, dir string, ms []csvfhir.Mapping, next adapters.Consumer) *Source {
	t.Helper()
	s, err := New(adapters.Settings{}, zipConfig(dir), next)
	if err != nil {
		t.Fatal(err)
	}
	s.SetCSV(ms)
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

// decodeBundle reads a queued bundle back.
func decodeBundle(t *testing.T, body []byte) (typ []string, requests []fhir.BundleRequest, refs []string) {
	t.Helper()
	var b struct {
		Entry []struct {
			FullURL  string `json:"fullUrl"`
			Resource struct {
				ResourceType string          `json:"resourceType"`
				Subject      *fhir.Reference `json:"subject"`
			} `json:"resource"`
			Request fhir.BundleRequest `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		typ = append(typ, e.Resource.ResourceType)
		requests = append(requests, e.Request)
		if e.Resource.Subject != nil {
			refs = append(refs, e.Resource.Subject.Reference)
		}
	}
	return typ, requests, refs
}

// A patients file and a labs file dropped into the folder are converted
// with their mappings and queued per patient; the labs name each patient
// by a conditional create on the chart number, and carry the same queue
// key as the patient's own bundle, so the exchange sees each patient
// before (or at least in order with) their results.
func TestCSVEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ms := csvMappings(t)
	pipe, q := newCSVPipeline(t, ms)
	rec := &recorder{next: pipe}
	s := startCSVSource(t, dir, ms, rec)
	copyIn(t, dir, "patients_2026-03.csv", []byte(patientsCSV))
	if reason := settled(t, s, "patients_2026-03.csv", false); reason != "" {
		t.Fatal(reason)
	}
	copyIn(t, dir, "labs_2026-03.csv", []byte(labsCSV))
	if reason := settled(t, s, "labs_2026-03.csv", false); reason != "" {
		t.Fatal(reason)
	}
	items := q.all()
	if len(items) != 4 {
		t.Fatalf("queued %d bundles, want 2 patients and the labs of 2 patients", len(items))
	}
	key := func(mrn string) string { return fhir.PatientKey(csvMRN, mrn) }
	for i, want := range []string{key("10045"), key("10046"), key("10045"), key("10046")} {
		if items[i].Key != want {
			t.Errorf("bundle %d keyed %q, want the patient's %q", i, items[i].Key, want)
		}
	}
	typ, reqs, _ := decodeBundle(t, items[0].Body)
	if len(typ) != 1 || typ[0] != "Patient" || reqs[0].Method != "PUT" || reqs[0].URL != "Patient?"+fhir.IdentifierQuery(csvMRN, "10045") {
		t.Errorf("patient bundle: %v %+v", typ, reqs)
	}
	typ, reqs, refs := decodeBundle(t, items[2].Body)
	if strings.Join(typ, ",") != "Patient,Observation,Observation" || reqs[0].IfNoneExist != fhir.IdentifierQuery(csvMRN, "10045") ||
		reqs[1].Method != "PUT" || !strings.HasPrefix(reqs[1].URL, "Observation/") || len(refs) != 2 {
		t.Errorf("labs bundle: %v %+v %v", typ, reqs, refs)
	}
	for _, r := range rec.all() {
		if r.Format != FormatCSV || r.Meta[MetaFormat] != FormatCSV || r.Meta[MetaCSVMatch] == "" {
			t.Errorf("%s handed on as %q, meta %v", r.Name, r.Format, r.Meta)
		}
	}
	if !strings.Contains(string(items[0].Body)+string(items[1].Body), "Müller") {
		t.Error("the UTF-8 name did not come through")
	}
}

// Dropping the same file again queues nothing new (the pipeline knows
// its bundles); a later export with the same rows makes byte-identical
// bundles: the same requests, which change nothing at the exchange, and
// are sent, since an export in between may have changed what it holds.
func TestCSVRedrop(t *testing.T) {
	dir := t.TempDir()
	ms := csvMappings(t)
	pipe, q := newCSVPipeline(t, ms)
	s := startCSVSource(t, dir, ms, pipe)
	copyIn(t, dir, "labs.csv", []byte(labsCSV))
	settled(t, s, "labs.csv", false)
	n := len(q.all())
	copyIn(t, dir, "labs_copy.csv", []byte(labsCSV))
	settled(t, s, "labs_copy.csv", false)
	if got := len(q.all()); got != n {
		t.Fatalf("queue holds %d bundles after the same file came again, want %d", got, n)
	}
	// A later export: the same rows, reordered columns, CRLF.
	later := "Collected,Units,Result,Test,LOINC,MRN\r\n" +
		"3/4/2024 8:05,mg/dL,105,Glucose,2345-7,10045\r\n" +
		"3/4/2024 8:05,g/dL,13.9,Hemoglobin,718-7,10045\r\n" +
		"3/5/2024,,Negative,HBsAg,5196-1,10046\r\n"
	copyIn(t, dir, "labs_again.csv", []byte(later))
	settled(t, s, "labs_again.csv", false)
	items := q.all()
	if len(items) != 2*n {
		t.Fatalf("queue holds %d bundles after a later export of the same rows, want %d", len(items), 2*n)
	}
	for i := range n {
		if !bytes.Equal(items[i].Body, items[n+i].Body) {
			t.Errorf("bundle %d differs between the two exports:\n%s\n%s", i, items[i].Body, items[n+i].Body)
		}
	}

	var runs [2][][]byte
	for i, body := range []string{labsCSV, later} {
		pipe, q := newCSVPipeline(t, ms)
		src := &Source{next: pipe, csv: ms}
		if err := src.consume(context.Background(), adapters.Raw{Name: "labs.csv", Body: []byte(body), Meta: map[string]string{"folder": "ehr"}}); err != nil {
			t.Fatal(err)
		}
		for _, it := range q.all() {
			runs[i] = append(runs[i], it.Body)
		}
	}
	if len(runs[0]) != n || len(runs[1]) != n {
		t.Fatalf("runs made %d and %d bundles, want %d", len(runs[0]), len(runs[1]), n)
	}
	for i := range runs[0] {
		if !bytes.Equal(runs[0][i], runs[1][i]) {
			t.Errorf("bundle %d differs between the two exports:\n%s\n%s", i, runs[0][i], runs[1][i])
		}
	}
}

// A file with bad rows goes to failed/ whole, nothing of it queued; its
// .error.txt names each bad row's line and column, without the cells.
func TestCSVBadRowsToFailed(t *testing.T) {
	dir := t.TempDir()
	ms := csvMappings(t)
	pipe, q := newCSVPipeline(t, ms)
	s := startCSVSource(t, dir, ms, pipe)
	bad := "MRN,LastName,FirstName,DOB,Sex\n" +
		"10045,Everyman,Adam,4/7/1954,M\n" +
		"10046,Secret,Person,1988-11-30,F\n" + // not M/D/YYYY
		"10047,Other,Person,1/2/1990,Q\n" + // not in the map
		",Nobody,Here,1/2/1990,M\n"
	copyIn(t, dir, "patients.csv", []byte(bad))
	reason := settled(t, s, "patients.csv", true)
	for _, want := range []string{
		"file: patients.csv",
		"3 of 4 rows cannot be mapped, so nothing from the file is sent",
		`line 3, column "DOB": not a date in any of the formats M/D/YYYY`,
		`line 4, column "Sex": value not in the column's map`,
		`line 5, column "MRN": no patient identifier`,
	} {
		if !strings.Contains(reason, want) {
			t.Errorf(".error.txt lacks %q:\n%s", want, reason)
		}
	}
	for _, phi := range []string{"1988-11-30", "Secret", `"Q"`} {
		if strings.Contains(reason, phi) {
			t.Errorf(".error.txt quotes %s:\n%s", phi, reason)
		}
	}
	if len(q.all()) != 0 {
		t.Errorf("queued %d bundles from a file with bad rows", len(q.all()))
	}
	ids, err := pipe.Quarantine().List()
	if err != nil || len(ids) != 1 {
		t.Errorf("quarantine holds %v (%v), want the file", ids, err)
	}
	if _, err := os.Stat(filepath.Join(s.Engine().Paths().Failed, "patients.csv")); err != nil {
		t.Error(err)
	}
}

// Semicolons, a UTF-8 byte-order mark and Windows-1252 text are read as
// the spreadsheet that wrote them meant.
func TestCSVDialects(t *testing.T) {
	dir := t.TempDir()
	ms := csvMappings(t)
	pipe, q := newCSVPipeline(t, ms)
	s := startCSVSource(t, dir, ms, pipe)
	semi := "\xEF\xBB\xBFMRN;LastName;FirstName;DOB;Sex\r\n10050;\"Doe; Jr.\";Jane;4/7/1954;F\r\n"
	copyIn(t, dir, "patients_semi.csv", []byte(semi))
	settled(t, s, "patients_semi.csv", false)
	cp, err := charmap.Windows1252.NewEncoder().Bytes([]byte("MRN,LastName,FirstName,DOB,Sex\r\n10051,Müller,Zoë,4/7/1954,F\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	copyIn(t, dir, "patients_ansi.csv", cp)
	settled(t, s, "patients_ansi.csv", false)
	items := q.all()
	if len(items) != 2 {
		t.Fatalf("queued %d", len(items))
	}
	var p struct {
		Entry []struct {
			Resource fhir.Patient `json:"resource"`
		} `json:"entry"`
	}
	for i, want := range [][2]string{{"Doe; Jr.", "Jane"}, {"Müller", "Zoë"}} {
		if err := json.Unmarshal(items[i].Body, &p); err != nil {
			t.Fatal(err)
		}
		n := p.Entry[0].Resource.Name[0]
		if n.Family != want[0] || n.Given[0] != want[1] {
			t.Errorf("bundle %d: name %+v, want %v", i, n, want)
		}
	}
}

// The CSVs of an EHI export ZIP go through the same mappings and make the
// same bundles as the files dropped alone; a CSV no mapping matches is
// named in the archive's .error.txt.
func TestCSVInZip(t *testing.T) {
	dir := t.TempDir()
	ms := csvMappings(t)
	pipe, q := newCSVPipeline(t, ms)
	s := startCSVSource(t, dir, ms, pipe)
	copyIn(t, dir, "ehi.zip", buildZip(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		zipFile{"export/patients.csv", []byte(patientsCSV)},
		zipFile{"export/labs.csv", []byte(labsCSV)},
	))
	if reason := settled(t, s, "ehi.zip", false); reason != "" {
		t.Fatal(reason)
	}
	inZip := q.all()

	alone, q2 := newCSVPipeline(t, ms)
	src := &Source{next: alone, csv: ms}
	for _, f := range []struct{ name, body string }{{"patients.csv", patientsCSV}, {"labs.csv", labsCSV}} {
		if err := src.consume(context.Background(), adapters.Raw{Name: f.name, Body: []byte(f.body), Meta: map[string]string{"folder": "ehr"}}); err != nil {
			t.Fatal(err)
		}
	}
	want := q2.all()
	if len(inZip) != len(want) || len(want) != 4 {
		t.Fatalf("the archive queued %d bundles, the files alone %d", len(inZip), len(want))
	}
	for i := range want {
		if !bytes.Equal(inZip[i].Body, want[i].Body) || inZip[i].Key != want[i].Key {
			t.Errorf("bundle %d differs from the one the file makes alone", i)
		}
	}

	copyIn(t, dir, "ehi2.zip", buildZip(t, time.Now(),
		zipFile{"patients.csv", []byte(patientsCSV)},
		zipFile{"notes.csv", []byte("a,b\n1,2\n")},
	))
	reason := settled(t, s, "ehi2.zip", true)
	for _, want := range []string{"1 of 2 documents accepted", `ehi2.zip: notes.csv: not converted: cannot classify "notes.csv"`,
		"no csv mapping of the folder (sources.folders[].csv) matches its name"} {
		if !strings.Contains(reason, want) {
			t.Errorf(".error.txt lacks %q:\n%s", want, reason)
		}
	}
}

// A CSV that no mapping matches keeps going to failed/, now saying so.
func TestCSVUnmatched(t *testing.T) {
	dir := t.TempDir()
	ms := csvMappings(t)
	pipe, q := newCSVPipeline(t, ms)
	s := startCSVSource(t, dir, ms, pipe)
	copyIn(t, dir, "vitals.csv", []byte("MRN,BP\n1,120/80\n"))
	reason := settled(t, s, "vitals.csv", true)
	if !strings.Contains(reason, "no csv mapping of the folder (sources.folders[].csv) matches its name") {
		t.Errorf(".error.txt:\n%s", reason)
	}
	if len(q.all()) != 0 {
		t.Error("queued something")
	}
}
