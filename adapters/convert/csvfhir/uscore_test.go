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
