package csvfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPatientNameTextAlone: a report extract often has one name column
// ("SMITH, JOHN A"), mapped to name.text, which the README allows in
// place of family and given. US Core Patient's us-core-6 wants each name
// to have a family or given part, or else the data-absent-reason
// extension: "(family.exists() or given.exists()) xor
// extension.where(url='.../data-absent-reason').exists()". A name with
// text alone failed it, so a validating exchange refused the Patient row.
// Now such a name keeps its text and says its parts are absent; a name
// with parts carries no extension.
func TestPatientNameTextAlone(t *testing.T) {
	m := &Mapping{Match: "p.csv", Resource: "Patient", Identifier: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "Name", Path: "name.text"}, {Header: "Last", Path: "name.family"}}}
	in := "MRN,Name,Last\n7,\"SMITH, JOHN A\",\n8,John Smith,Smith\n"
	parts, err := Convert([]byte(in), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps := resources[fhir.Patient](parts)
	if len(ps) != 2 {
		t.Fatalf("%d patients", len(ps))
	}
	for i, p := range ps {
		if len(p.Name) != 1 {
			t.Fatalf("patient %d: names %+v", i+1, p.Name)
		}
		n := p.Name[0]
		parts := n.Family != "" || len(n.Given) > 0
		dar := 0
		for _, e := range n.Extension {
			if e.URL == urlDataAbsent && e.ValueCode != "" {
				dar++
			}
		}
		if parts == (dar > 0) || dar > 1 {
			t.Errorf("patient %d: name %+v fails us-core-6 (family or given, xor one data-absent-reason)", i+1, n)
		}
	}
	if ps[0].Name[0].Text != "SMITH, JOHN A" {
		t.Errorf("name text %q, want the cell", ps[0].Name[0].Text)
	}
	if ps[1].Name[0].Family != "Smith" || ps[1].Name[0].Text != "John Smith" {
		t.Errorf("name %+v", ps[1].Name[0])
	}
}

func conditionsMapping() *Mapping {
	return &Mapping{Match: "problems*.csv", Resource: "Condition",
		Patient: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "ICD10", Path: "code"}, {Header: "Onset", Path: "onsetDateTime"}, {Header: "Resolved", Path: "abatementDateTime"},
			{Header: "Status", Path: "clinicalStatus", Map: map[string]string{"A": "active", "R": "resolved", "X": "recurrence"}},
			{Header: "Verified", Path: "verificationStatus", Map: map[string]string{"C": "confirmed", "E": "entered-in-error"}}},
		Set: map[string]string{"code.system": "ICD10CM"}}
}

// TestConditionAbatedButActive: FHIR R4's con-4 ("If condition is
// abated, then clinicalStatus must be either inactive, resolved or
// remission") was not checked, so a row whose status column says active
// (or recurrence) beside a resolved date went out as a Condition the
// exchange refuses, and with it the patient's other rows in the
// transaction. Such a row is now a row error naming the status column,
// as a period that ends before it starts is (per-1); a resolved one, or
// one without a status (resolved by default), goes as before.
func TestConditionAbatedButActive(t *testing.T) {
	m := conditionsMapping()
	in := "MRN,ICD10,Onset,Resolved,Status,Verified\n" +
		"1,E11.9,2020-01-02,2021-03-04,A,C\n" +
		"1,I10,2020-01-02,2021-03-04,X,\n" +
		"1,J45.909,2020-01-02,2021-03-04,R,\n" +
		"1,K21.9,2020-01-02,2021-03-04,,\n"
	got := rowErrors(t, in, m, Options{})
	wantAll(t, got, "2 of 4 rows cannot be mapped", `line 2, column "Status": active beside an abatement`, `line 3, column "Status": recurrence beside an abatement`, "con-4")

	ok := "MRN,ICD10,Onset,Resolved,Status,Verified\n" +
		"1,J45.909,2020-01-02,2021-03-04,R,\n" +
		"1,K21.9,2020-01-02,2021-03-04,,\n"
	parts, err := Convert([]byte(ok), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resources[fhir.Condition](parts) {
		if c.ClinicalStatus == nil || c.ClinicalStatus.Coding[0].Code != "resolved" || c.AbatementDateTime != "2021-03-04" {
			t.Errorf("condition %s: clinical status %+v abatement %q", c.Code.Coding[0].Code, c.ClinicalStatus, c.AbatementDateTime)
		}
	}
}

// TestEnteredInErrorHasNoClinicalStatus: a row the export marks entered
// in error is a retraction, whatever its status column still says. FHIR
// R4's con-5 (Condition) and ait-2 (AllergyIntolerance) refuse a
// clinical status beside verificationStatus entered-in-error, and con-4
// an abatement without a resolved, remission or inactive status, so a
// Condition in error may carry neither. Both went out as the row had
// them, and the exchange refused the retraction; now they are left out,
// as the HL7 v2 path leaves out the status of a problem in error.
func TestEnteredInErrorHasNoClinicalStatus(t *testing.T) {
	in := "MRN,ICD10,Onset,Resolved,Status,Verified\n" +
		"1,E11.9,2020-01-02,,A,E\n" +
		"1,I10,2020-01-02,2021-03-04,R,E\n" +
		"1,J45.909,2020-01-02,2021-03-04,,E\n"
	parts, err := Convert([]byte(in), conditionsMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := resources[fhir.Condition](parts)
	if len(cs) != 3 {
		t.Fatalf("%d conditions", len(cs))
	}
	for _, c := range cs {
		if c.VerificationStatus == nil || c.VerificationStatus.Coding[0].Code != "entered-in-error" {
			t.Errorf("condition %s: verification %+v", c.Code.Coding[0].Code, c.VerificationStatus)
		}
		if c.ClinicalStatus != nil || c.AbatementDateTime != "" {
			t.Errorf("condition %s in error: clinical status %+v (con-5), abatement %q (con-4)", c.Code.Coding[0].Code, c.ClinicalStatus, c.AbatementDateTime)
		}
	}

	am := &Mapping{Match: "allergies*.csv", Resource: "AllergyIntolerance", Patient: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "RxNorm", Path: "code"}, {Header: "Status", Path: "clinicalStatus"}, {Header: "Verified", Path: "verificationStatus"}},
		Set:     map[string]string{"code.system": "RXNORM"}}
	parts, err = Convert([]byte("MRN,RxNorm,Status,Verified\n1,7980,active,entered-in-error\n1,1191,active,confirmed\n"), am, Options{})
	if err != nil {
		t.Fatal(err)
	}
	as := resources[fhir.AllergyIntolerance](parts)
	if len(as) != 2 {
		t.Fatalf("%d allergies", len(as))
	}
	if as[0].ClinicalStatus != nil {
		t.Errorf("allergy in error has clinical status %+v (ait-2)", as[0].ClinicalStatus)
	}
	if as[1].ClinicalStatus == nil || as[1].ClinicalStatus.Coding[0].Code != "active" {
		t.Errorf("confirmed allergy: clinical status %+v", as[1].ClinicalStatus)
	}
}

// TestCodeSystemOIDs: exports drawn from C-CDA or HL7 v2 name a code's
// system by its HL7 OID (2.16.840.1.113883.6.96 for SNOMED CT), which
// went out as system urn:oid:2.16.840.1.113883.6.96. FHIR R4's code
// system registry (terminologies-systems) says "If a URI is defined
// here, it SHALL be used in preference to any other identifying
// mechanisms", and an exchange matching or validating SNOMED CT, CPT or
// ICD-10-CM codes by their URI knew none of these. Now the OID of a
// system with a FHIR URI, bare or as urn:oid, becomes that URI; other
// OIDs (HCPCS's has no R4 URI) stay urn:oid. The rows keep the
// identifiers they were minted before, so a file sent again corrects
// the resources it made rather than making new ones.
func TestCodeSystemOIDs(t *testing.T) {
	in := "MRN,Code,System,Name,Begin,Finish,Status,Why,Note\n" +
		"123,80146002,2.16.840.1.113883.6.96,Appendectomy,2024-03-04,,,,\n" +
		"123,44950,urn:oid:2.16.840.1.113883.6.12,Appendectomy,2024-03-05,,,,\n" +
		"123,0DTJ4ZZ,2.16.840.1.113883.6.4,Appendectomy,2024-03-06,,,,\n" +
		"123,J1100,2.16.840.1.113883.6.285,Dexamethasone injection,2024-03-07,,,,\n" +
		"123,X1,1.2.3.4.5,Local procedure,2024-03-08,,,,\n"
	parts, err := Convert([]byte(in), proceduresMapping(), Options{Base: "urn:ferry:site:test"})
	if err != nil {
		t.Fatal(err)
	}
	ps := resources[fhir.Procedure](parts)
	want := []string{"http://snomed.info/sct", "http://www.ama-assn.org/go/cpt", "http://www.cms.gov/Medicare/Coding/ICD10",
		"urn:oid:2.16.840.1.113883.6.285", "urn:oid:1.2.3.4.5"}
	if len(ps) != len(want) {
		t.Fatalf("%d procedures", len(ps))
	}
	for i, sys := range want {
		if c := ps[i].Code; c == nil || len(c.Coding) != 1 || c.Coding[0].System != sys {
			t.Errorf("row %d: code %+v, want system %s", i+2, c, sys)
		}
	}
	// The id the first row had when its system went out as urn:oid.
	if ps[0].ID != "d2dd7825-2c88-5812-87df-de2a0de2a7ff" {
		t.Errorf("row 2 is now resource %s: a file sent before would make a second one", ps[0].ID)
	}

	m := conditionsMapping()
	m.Set["code.system"] = "2.16.840.1.113883.6.90"
	parts, err = Convert([]byte("MRN,ICD10,Onset,Resolved,Status,Verified\n1,E11.9,2020-01-02,,A,C\n"), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := resources[fhir.Condition](parts)[0].Code; c.Coding[0].System != "http://hl7.org/fhir/sid/icd-10-cm" {
		t.Errorf("condition code %+v, want ICD-10-CM's URI", c)
	}
}

// TestObservationRowWithoutCategory: every US Core Observation profile
// slices category with one it fixes (the laboratory profile's
// "Observation.category:us-core" is 1..1, laboratory), and the mapping
// must give one; but a mapping that takes it from a column, with no
// set: default, wrote an Observation without any category for a row
// whose cell was empty, which a validating exchange refuses. Such a row
// is now refused, naming the column; a set: default fills it.
func TestObservationRowWithoutCategory(t *testing.T) {
	m := labsMapping()
	m.Set = nil
	m.Columns = append(m.Columns, Column{Header: "Kind", Path: "category"})
	in := "MRN,LOINC,Test,Result,Units,Date,Flag,Kind\n" +
		"123,2345-7,Glucose,105,mg/dL,3/4/2024 8:05,H,laboratory\n" +
		"123,8867-4,Pulse,72,/min,3/4/2024 8:05,,\n"
	msg := rowErrors(t, in, m, Options{})
	wantAll(t, msg, "1 of 2 rows cannot be mapped", `line 3, column "Kind": no category`)

	m.Set = map[string]string{"category": "vital-signs"}
	parts, err := Convert([]byte(in), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	obs := resources[fhir.Observation](parts)
	if len(obs) != 2 {
		t.Fatalf("%d observations", len(obs))
	}
	for _, o := range obs {
		if len(o.Category) != 1 || len(o.Category[0].Coding) != 1 {
			t.Errorf("%s: category %+v", o.Code.Coding[0].Code, o.Category)
		}
	}
}
