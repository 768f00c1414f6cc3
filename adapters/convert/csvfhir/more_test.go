package csvfhir

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// resources returns the resources of type T in the parts, in order.
func resources[T any](parts []Part) []*T {
	var out []*T
	for _, p := range parts {
		for _, e := range p.Bundle.Entry {
			if r, ok := e.Resource.(*T); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// rowErrors converts in with m and returns the *Error's text, failing
// the test when the file converts or fails otherwise.
func rowErrors(t *testing.T, in string, m *Mapping, opts Options) string {
	t.Helper()
	_, err := Convert([]byte(in), m, opts)
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want *Error", err)
	}
	return err.Error()
}

func wantAll(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("lacks %q:\n%s", w, got)
		}
	}
}

func problems(t *testing.T, y string) string {
	t.Helper()
	var m Mapping
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range m.Validate() {
		out = append(out, p.String())
	}
	return strings.Join(out, "\n")
}

func encountersMapping() *Mapping {
	return &Mapping{Match: "enc.csv", Resource: "Encounter", DateFormats: []string{"YYYY-MM-DD HH:mm", "YYYY-MM-DD"}, TimeZone: "UTC",
		Patient:    &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Identifier: &ColumnIdentifier{Column: "Visit", System: "urn:oid:2.16.840.1.113883.3.7777.5"},
		Columns: Columns{{Header: "Class", Path: "class", Map: map[string]string{"O": "AMB", "T": "VR", "I": "IMP"}},
			{Header: "Type", Path: "type.text"}, {Header: "In", Path: "period.start"}, {Header: "Out", Path: "period.end"},
			{Header: "Doctor", Path: "participant.display"}, {Header: "Why", Path: "reasonCode.text"}}}
}

const encountersCSV = "Visit,MRN,Class,Type,In,Out,Doctor,Why\n" +
	"V1,123,O,Office visit,2024-03-04 08:00,2024-03-04 08:30,Dr. Who,cough\n" +
	"V2,123,I,Admission,2024-03-10,,,\n" +
	"V3,456,T,Video visit,2024-03-05 09:00,,Dr. No,\n"

func TestEncounters(t *testing.T) {
	parts, err := Convert([]byte(encountersCSV), encountersMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		checkBundle(t, p)
	}
	es := resources[fhir.Encounter](parts)
	if len(parts) != 2 || len(es) != 3 {
		t.Fatalf("%d parts, %d encounters", len(parts), len(es))
	}
	office, adm, video := es[0], es[1], es[2]
	if office.Class != (fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "AMB", Display: "ambulatory"}) {
		t.Errorf("class %+v", office.Class)
	}
	if office.Status != "finished" || adm.Status != "unknown" || video.Status != "unknown" {
		t.Errorf("statuses %q %q %q: finished with an end, else unknown", office.Status, adm.Status, video.Status)
	}
	if office.Period == nil || office.Period.Start != "2024-03-04T08:00:00Z" || office.Period.End != "2024-03-04T08:30:00Z" || adm.Period.Start != "2024-03-10" {
		t.Errorf("periods %+v %+v", office.Period, adm.Period)
	}
	if len(office.Type) != 1 || office.Type[0].Text != "Office visit" || len(office.ReasonCode) != 1 || office.ReasonCode[0].Text != "cough" {
		t.Errorf("type %+v reason %+v", office.Type, office.ReasonCode)
	}
	if len(office.Participant) != 1 || office.Participant[0].Individual.Display != "Dr. Who" || adm.Participant != nil {
		t.Errorf("participants %+v %+v", office.Participant, adm.Participant)
	}
	if office.Subject == nil || office.Subject.Reference != parts[0].Bundle.Entry[0].FullURL {
		t.Errorf("subject %+v", office.Subject)
	}
	if office.Identifier[0] != (fhir.Identifier{System: "urn:oid:2.16.840.1.113883.3.7777.5", Value: "V1"}) {
		t.Errorf("identifier %+v", office.Identifier)
	}
	if e := parts[0].Bundle.Entry[1]; e.Request.Method != "PUT" || e.Request.URL != "Encounter/"+office.ID {
		t.Errorf("request %+v", e.Request)
	}

	// The visit, later closed and with another doctor, is the same
	// resource: the encounter id decides, not what the row says.
	later := strings.Replace(encountersCSV, "2024-03-10,,,", "2024-03-10,2024-03-14,Dr. Strange,", 1)
	again, err := Convert([]byte(later), encountersMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	adm2 := resources[fhir.Encounter](again)[1]
	if adm2.ID != adm.ID || adm2.Status != "finished" || adm2.Period.End != "2024-03-14" {
		t.Errorf("the closed visit: id %s (was %s), status %q, period %+v", adm2.ID, adm.ID, adm2.Status, adm2.Period)
	}
	// In ModeConditional it is written by its encounter id.
	cond, err := Convert([]byte(encountersCSV), encountersMapping(), Options{Mode: ModeConditional})
	if err != nil {
		t.Fatal(err)
	}
	if e := cond[0].Bundle.Entry[1]; e.Request.URL != "Encounter?"+fhir.IdentifierQuery("urn:oid:2.16.840.1.113883.3.7777.5", "V1") {
		t.Errorf("conditional request %+v", e.Request)
	}
	// Security labels reach the encounters.
	m := encountersMapping()
	m.Security = []string{"V"}
	sec, err := Convert([]byte(encountersCSV), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := resources[fhir.Encounter](sec)[0]; e.Meta == nil || e.Meta.Security[0].Code != "V" {
		t.Errorf("labels %+v", e.Meta)
	}
}

func TestEncounterRowErrors(t *testing.T) {
	in := "Visit,MRN,Class,Type,In,Out,Doctor,Why\n" +
		",123,O,Office visit,2024-03-04,,,\n" + // no encounter id
		"V2,123,X,Office visit,2024-03-04,,,\n" + // class not in the map
		"V3,123,,Office visit,2024-03-04,,,\n" + // no class
		"V4,123,O,,2024-03-04,,,\n" + // no type
		"V5,123,O,Office visit,2024-03-04 10:00,2024-03-04 09:00,,\n" + // ends before it starts
		"V6,123,O,Office visit,2024-03-05,2024-03-04 23:00,,\n" + // so does this, at another precision
		"V7,123,O,Office visit,2024-03-04 10:00,2024-03-04,,\n" // the same day: fine
	msg := rowErrors(t, in, encountersMapping(), Options{})
	wantAll(t, msg,
		"6 of 7 rows cannot be mapped",
		`line 2, column "Visit": no row identifier`,
		`line 3, column "Class": value not in the column's map`,
		`line 4, column "Class": no class (US Core requires one`,
		`line 5, column "Type": no type (US Core requires one)`,
		`line 6, column "Out": ends before it starts`,
		`line 7, column "Out": ends before it starts`)
	if strings.Contains(msg, "line 8") || strings.Contains(msg, "2024-03-04") {
		t.Errorf("a good row listed, or a cell quoted:\n%s", msg)
	}
	// A class given by set fills an empty cell.
	m := encountersMapping()
	m.Set = map[string]string{"class": "AMB"}
	parts, err := Convert([]byte("Visit,MRN,Class,Type,In,Out,Doctor,Why\nV3,123,,Office visit,2024-03-04,,,\n"), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := resources[fhir.Encounter](parts)[0]; e.Class.Code != "AMB" {
		t.Errorf("class %+v", e.Class)
	}
}

func TestEncounterValidate(t *testing.T) {
	all := problems(t, `
match: enc.csv
resource: Encounter
patient: {column: MRN, system: "urn:oid:1.2.3"}
columns:
  CPT: type
  Reason: reasonCode
  Kind: {path: class, map: {O: OUTPATIENT}}
  Seen: period.begin
`)
	wantAll(t, all,
		"identifier: an Encounter needs the export's encounter id",
		`columns.Kind.map.O: not one of AMB, EMER`,
		`columns.Seen: unknown path "period.begin" for Encounter; known paths: class, location.display, participant.display, period.end, period.start`,
		"set.type.system: Encounter type codes come from several code systems",
		"set.reasonCode.system: Encounter reasonCode codes come from several code systems")
	all = problems(t, "match: enc.csv\nresource: Encounter\npatient: {column: MRN, system: 'urn:oid:1.2'}\nidentifier: {column: V, system: 'urn:oid:1.2.5'}\ncolumns: {Seen: period.start}\n")
	wantAll(t, all, "columns: an Encounter needs class: map a column to it", "columns: an Encounter needs type or type.text or type.display")
	if ok := problems(t, "match: enc.csv\nresource: Encounter\npatient: {column: MRN, system: 'urn:oid:1.2'}\nidentifier: {column: V, system: 'urn:oid:1.2.5'}\ncolumns: {T: type.text}\nset: {class: amb}\n"); ok != "" {
		t.Errorf("a valid mapping has problems: %s", ok)
	}
}

func TestOrdered(t *testing.T) {
	for _, c := range []struct {
		start, end string
		ok         bool
	}{
		{"", "2024", true},
		{"2024-03-04", "", true},
		{"2024-03-04", "2024-03-04", true},
		{"2024-03-04", "2024-03-03", false},
		{"2024-03", "2024-03-31", true},
		{"2024-04", "2024-03-31", false},
		{"2024-03-04T10:00:00-05:00", "2024-03-04T15:30:00Z", true}, // 15:00Z and 15:30Z
		{"2024-03-04T10:00:00-05:00", "2024-03-04T14:30:00Z", false},
		{"2024-03-04T23:00:00-05:00", "2024-03-04", true},
	} {
		if got := ordered(c.start, c.end); got != c.ok {
			t.Errorf("ordered(%q, %q) = %v", c.start, c.end, got)
		}
	}
}

func proceduresMapping() *Mapping {
	return &Mapping{Match: "proc.csv", Resource: "Procedure", TimeZone: "UTC",
		Patient: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "Code", Path: "code"}, {Header: "System", Path: "code.system"}, {Header: "Name", Path: "code.text"},
			{Header: "Begin", Path: "performedPeriod.start"}, {Header: "Finish", Path: "performedPeriod.end"},
			{Header: "Status", Path: "status"}, {Header: "Why", Path: "reasonCode.text"}, {Header: "Note", Path: "note"}}}
}

const proceduresCSV = "MRN,Code,System,Name,Begin,Finish,Status,Why,Note\n" +
	"123,0DTJ4ZZ,ICD-10-PCS,Appendectomy,2024-03-04T10:00:00Z,2024-03-04T11:10:00Z,,appendicitis,uneventful\n" +
	"123,80146002,snomed,Appendectomy,2024-03-04,,in-progress,,\n" +
	"456,J1100,HCPCS,Dexamethasone injection,,,not-done,,\n"

func TestProcedures(t *testing.T) {
	parts, err := Convert([]byte(proceduresCSV), proceduresMapping(), Options{Base: "urn:ferry:site:test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		checkBundle(t, p)
	}
	ps := resources[fhir.Procedure](parts)
	if len(ps) != 3 {
		t.Fatalf("%d procedures", len(ps))
	}
	pcs, snomed, hcpcs := ps[0], ps[1], ps[2]
	if pcs.Status != "completed" || snomed.Status != "in-progress" || hcpcs.Status != "not-done" {
		t.Errorf("statuses %q %q %q", pcs.Status, snomed.Status, hcpcs.Status)
	}
	for i, sys := range []string{"http://www.cms.gov/Medicare/Coding/ICD10", "http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.285"} {
		if c := ps[i].Code; c == nil || c.Coding[0].System != sys || c.Text == "" {
			t.Errorf("procedure %d code %+v, want system %s", i, c, sys)
		}
	}
	if pcs.PerformedPeriod == nil || pcs.PerformedPeriod.End != "2024-03-04T11:10:00Z" || snomed.PerformedPeriod.Start != "2024-03-04" || hcpcs.PerformedPeriod != nil {
		t.Errorf("performed %+v %+v %+v", pcs.PerformedPeriod, snomed.PerformedPeriod, hcpcs.PerformedPeriod)
	}
	if len(pcs.ReasonCode) != 1 || pcs.ReasonCode[0].Text != "appendicitis" || len(pcs.Note) != 1 {
		t.Errorf("reason %+v note %+v", pcs.ReasonCode, pcs.Note)
	}
	// Without an id column a row is known by its code and date: the
	// same row again is the same resource, a note added later too.
	if id := pcs.Identifier[0]; id.System != "urn:ferry:site:test:csv:procedure-key" || len(id.Value) != 64 {
		t.Errorf("minted identifier %+v", id)
	}
	noted, err := Convert([]byte(strings.Replace(proceduresCSV, ",,in-progress,,\n", ",,in-progress,,bleeding\n", 1)), proceduresMapping(), Options{Base: "urn:ferry:site:test"})
	if err != nil {
		t.Fatal(err)
	}
	if again := resources[fhir.Procedure](noted)[1]; again.ID != snomed.ID || len(again.Note) != 1 {
		t.Errorf("a note added later made another resource (%s, was %s)", again.ID, snomed.ID)
	}
}

func TestProcedureRowErrors(t *testing.T) {
	in := "MRN,Code,System,Name,Begin,Finish,Status,Why,Note\n" +
		"123,0DTJ4ZZ,ICD-10-PCS,Appendectomy,,,,,\n" + // completed, but when?
		"123,0DTJ4ZZ,ICD-10-PCS,Appendectomy,,,in-progress,,\n" + // so is this
		"123,0DTJ4ZZ,ICD10 PCS,Appendectomy,2024-03-04,,,,\n" + // not a code system
		"123,,,,2024-03-04,,,,\n" + // no code
		"123,0DTJ4ZZ,ICD-10-PCS,Appendectomy,2024-03-05,2024-03-04,,,\n" + // ends before it starts
		"123,0DTJ4ZZ,ICD-10-PCS,Appendectomy,2024-03-05,,done,,\n" // not a status
	msg := rowErrors(t, in, proceduresMapping(), Options{})
	wantAll(t, msg,
		"6 of 6 rows cannot be mapped",
		`line 2, column "Begin": no date, but the procedure is completed (US Core us-core-7`,
		`line 3, column "Begin": no date, but the procedure is in-progress`,
		`line 4, column "System": not a code system URI or a known name (LOINC, SNOMED, ICD10CM, RXNORM, CVX, NDC, CPT, HCPCS, ICD10PCS)`,
		`line 5, column "Code": no code`,
		`line 6, column "Finish": ends before it starts`,
		`line 7, column "Status": not one of preparation, in-progress`)
	if strings.Contains(msg, "ICD10 PCS") || strings.Contains(msg, "Appendectomy") || strings.Contains(msg, "2024-03-0") {
		t.Errorf("a cell quoted without log_phi:\n%s", msg)
	}
	if msg := rowErrors(t, in, proceduresMapping(), Options{LogPHI: true}); !strings.Contains(msg, `line 4, column "System": "ICD10 PCS": not a code system`) {
		t.Errorf("with log_phi the cell is quoted:\n%s", msg)
	}
}

func TestProcedureValidate(t *testing.T) {
	all := problems(t, `
match: proc.csv
resource: Procedure
patient: {column: MRN, system: "urn:oid:1.2.3"}
columns: {CPT: code, Date: performedDateTime, From: performedPeriod.start, Reason: reasonCode}
`)
	wantAll(t, all,
		"columns: map performedDateTime or performedPeriod.start and .end, not both",
		"set.code.system: Procedure codes come from several code systems",
		"set.reasonCode.system: Procedure reasonCode codes come from several code systems")
	if strings.Contains(all, "identifier") {
		t.Errorf("a Procedure needs no id column:\n%s", all)
	}
	all = problems(t, "match: proc.csv\nresource: Procedure\npatient: {column: MRN, system: 'urn:oid:1.2'}\ncolumns: {Name: code.text}\n")
	wantAll(t, all, "columns: a Procedure needs performedDateTime or performedPeriod.start or performedPeriod.end: map a column to it")
	if ok := problems(t, "match: proc.csv\nresource: Procedure\npatient: {column: MRN, system: 'urn:oid:1.2'}\ncolumns: {CPT: code, On: performedDateTime}\nset: {code.system: cpt}\n"); ok != "" {
		t.Errorf("a valid mapping has problems: %s", ok)
	}
}

func medicationsMapping() *Mapping {
	return &Mapping{Match: "meds.csv", Resource: "MedicationRequest",
		Patient: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "RxCUI", Path: "medication"}, {Header: "Drug", Path: "medication.display"},
			{Header: "Sig", Path: "dosageInstruction.text"}, {Header: "Written", Path: "authoredOn"},
			{Header: "By", Path: "requester.display"}, {Header: "Reported", Path: "reportedBoolean"},
			{Header: "Intent", Path: "intent"}, {Header: "Status", Path: "status"}}}
}

const medicationsCSV = "MRN,RxCUI,Drug,Sig,Written,By,Reported,Intent,Status\n" +
	"123,860975,Metformin 500 MG,1 tab BID,2024-03-04,Dr. Who,N,,\n" +
	"123,,Fish oil,1 cap daily,,,Y,,\n" +
	"123,,Vitamin D,1 tab daily,,,Y,,\n" +
	"123,,Aspirin 81 MG,1 tab daily,,,,plan,completed\n"

func TestMedicationRequests(t *testing.T) {
	parts, err := Convert([]byte(medicationsCSV), medicationsMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		checkBundle(t, p)
	}
	ms := resources[fhir.MedicationRequest](parts)
	if len(ms) != 4 {
		t.Fatalf("%d medication requests", len(ms))
	}
	met, fish, vitd, asa := ms[0], ms[1], ms[2], ms[3]
	if met.Status != "active" || met.Intent != "order" || met.ReportedBoolean == nil || *met.ReportedBoolean {
		t.Errorf("metformin: status %q intent %q reported %v", met.Status, met.Intent, met.ReportedBoolean)
	}
	if c := met.MedicationCodeableConcept; c == nil || c.Coding[0] != (fhir.Coding{System: "http://www.nlm.nih.gov/research/umls/rxnorm", Code: "860975", Display: "Metformin 500 MG"}) || c.Text != "" {
		t.Errorf("metformin medication %+v: RxNorm by default", c)
	}
	if met.Requester == nil || met.Requester.Display != "Dr. Who" || met.AuthoredOn != "2024-03-04" || met.DosageInstruction[0].Text != "1 tab BID" {
		t.Errorf("metformin %+v", met)
	}
	if fish.Intent != "plan" || fish.ReportedBoolean == nil || !*fish.ReportedBoolean || fish.Requester != nil {
		t.Errorf("a reported entry is a plan: intent %q reported %v", fish.Intent, fish.ReportedBoolean)
	}
	// Named without a code, a drug is its name, and the name tells two
	// such entries apart.
	if c := fish.MedicationCodeableConcept; c == nil || c.Text != "Fish oil" || c.Coding != nil {
		t.Errorf("fish oil medication %+v", c)
	}
	if fish.ID == vitd.ID {
		t.Error("two drugs without codes share a resource")
	}
	if asa.Intent != "plan" || asa.Status != "completed" || asa.ReportedBoolean != nil {
		t.Errorf("aspirin: intent %q status %q", asa.Intent, asa.Status)
	}
	// A changed dose updates the entry; a new prescription is another.
	changed := strings.Replace(medicationsCSV, "1 tab BID", "2 tab BID", 1)
	renewed := strings.Replace(medicationsCSV, "2024-03-04", "2024-09-04", 1)
	for _, c := range []struct {
		in   string
		same bool
	}{{changed, true}, {renewed, false}} {
		p, err := Convert([]byte(c.in), medicationsMapping(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := resources[fhir.MedicationRequest](p)[0].ID; (got == met.ID) != c.same {
			t.Errorf("same resource %v, want %v", got == met.ID, c.same)
		}
	}
	// Another code system by name.
	m := medicationsMapping()
	m.Set = map[string]string{"medication.system": "NDC"}
	p, err := Convert([]byte(medicationsCSV), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := resources[fhir.MedicationRequest](p)[0].MedicationCodeableConcept; c.Coding[0].System != "http://hl7.org/fhir/sid/ndc" {
		t.Errorf("set system: %+v", c)
	}
}

func TestMedicationRequestRowErrors(t *testing.T) {
	in := "MRN,RxCUI,Drug,Sig,Written,By,Reported,Intent,Status\n" +
		"123,860975,Metformin 500 MG,1 tab BID,2024-03-04,,N,,\n" + // an order without its prescriber
		"123,860975,Metformin 500 MG,1 tab BID,2024-03-04,,Y,order,\n" + // so is this, reported or not
		"123,,,1 tab BID,2024-03-04,Dr. Who,,,\n" + // no medication
		"123,860975,Metformin 500 MG,1 tab BID,2024-03-04,Dr. Who,maybe,,\n" + // not a boolean
		"123,860975,Metformin 500 MG,1 tab BID,2024-03-04,Dr. Who,,prescribed,\n" + // not an intent
		"123,860975,Metformin 500 MG,1 tab BID,2024-03-04,Dr. Who,,,discontinued\n" // not a status
	msg := rowErrors(t, in, medicationsMapping(), Options{})
	wantAll(t, msg,
		"6 of 6 rows cannot be mapped",
		`line 2, column "By": an order without its prescriber (US Core us-core-21`,
		`line 3, column "By": an order without its prescriber`,
		`line 4, column "RxCUI": no medication`,
		`line 5, column "Reported": not true or false`,
		`line 6, column "Intent": not one of proposal, plan, order`,
		`line 7, column "Status": not one of active, on-hold`)
	for _, phi := range []string{"Metformin", "maybe", "prescribed", "discontinued", "BID"} {
		if strings.Contains(msg, phi) {
			t.Errorf("error quotes %q without log_phi:\n%s", phi, msg)
		}
	}
}

func TestMedicationRequestValidate(t *testing.T) {
	const head = "match: meds.csv\nresource: MedicationRequest\npatient: {column: MRN, system: 'urn:oid:1.2'}\n"
	all := problems(t, head+"columns: {Drug: medication.text, Why: reasonCode}\n")
	wantAll(t, all,
		"columns: a MedicationRequest is an order unless it says otherwise, and US Core (us-core-21) wants an order's prescriber",
		"set.reasonCode.system: MedicationRequest reasonCode codes come from several code systems")
	if strings.Contains(all, "identifier") || strings.Contains(all, "medication.system") {
		t.Errorf("a MedicationRequest needs no id column, and its codes are RxNorm by default:\n%s", all)
	}
	wantAll(t, problems(t, head+"columns: {Drug: medication.text}\nset: {intent: order}\n"), "wants an order's prescriber")
	wantAll(t, problems(t, head+"columns: {Sig: dosageInstruction.text}\nset: {intent: plan}\n"),
		"columns: a MedicationRequest needs medication or medication.text or medication.display")
	for _, ok := range []string{
		"columns: {Drug: medication.text}\nset: {intent: plan}\n",
		"columns: {Drug: medication.display, Doctor: requester.display}\n",
		"columns: {RxNorm: medication, Source: reportedBoolean}\n",
		"columns: {RxNorm: medication, Kind: intent}\n",
	} {
		if got := problems(t, head+ok); got != "" {
			t.Errorf("%s: %s", ok, got)
		}
	}
}
