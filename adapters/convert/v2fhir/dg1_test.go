package v2fhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

const dg1ADT = `MSH|^~\&|EPICADT|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||ADT^A08^ADT_A01|%s|P|2.5.1
EVN|A08|20240316085955
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
PV1|1|I|MED^12^A^SPRINGCLINIC|||||||MED||||7|||||V2024031600007^^^SPRINGCLINIC&2.16.840.1.113883.3.999.2&ISO^VN|||||||||||||||||||||||||20240316083000
DG1|1||J18.9^Pneumonia, unspecified organism^I10||20240315|W|||||||||||||||%s
DG1|2||E11.9^Type 2 diabetes mellitus without complications^I10||20240316|F`

// TestDiagnosisDeleted: a DG1 with action code D (DG1-21, table 0206: the
// sender deletes the diagnosis it sent) is written over the diagnosis
// the earlier message wrote (the same id) with verificationStatus
// entered-in-error, as the IG's DG1 map has it, and is no longer listed
// on the Encounter, rather than written again as a current diagnosis.
func TestDiagnosisDeleted(t *testing.T) {
	c := testConverter(t)
	conditions := func(b *fhir.Bundle) map[string]*fhir.Condition {
		m := map[string]*fhir.Condition{}
		for _, cond := range entriesOf[fhir.Condition](b) {
			m[cond.Code.Coding[0].Code] = cond
		}
		return m
	}
	added := conditions(mustConvert(t, c, fmt.Sprintf(dg1ADT, "A1", "A")))
	b := mustConvert(t, c, fmt.Sprintf(dg1ADT, "A2", "D"))
	deleted := conditions(b)
	pneu := deleted["J18.9"]
	if pneu == nil || added["J18.9"] == nil {
		t.Fatalf("no J18.9 Condition: added %v, deleted %v", added, deleted)
	}
	if pneu.ID != added["J18.9"].ID {
		t.Errorf("deletion writes Condition/%s, the diagnosis is Condition/%s", pneu.ID, added["J18.9"].ID)
	}
	if vs := pneu.VerificationStatus; vs == nil || vs.Coding[0].Code != "entered-in-error" || vs.Coding[0].System != "http://terminology.hl7.org/CodeSystem/condition-ver-status" {
		t.Errorf("deleted diagnosis verificationStatus %+v, want condition-ver-status#entered-in-error", vs)
	}
	if added["J18.9"].VerificationStatus != nil || deleted["E11.9"].VerificationStatus != nil {
		t.Error("a diagnosis that is not deleted got a verificationStatus")
	}
	encs := entriesOf[fhir.Encounter](b)
	if len(encs) != 1 {
		t.Fatalf("%d encounters", len(encs))
	}
	if d := encs[0].Diagnosis; len(d) != 1 || d[0].Condition.Reference != "Condition/"+deleted["E11.9"].ID {
		t.Errorf("encounter diagnoses %+v, want only the diabetes", d)
	}
	strictR4(t, marshal(t, b))
}

// TestReferralDeletedDiagnosis: a referral's DG1 deleted by its action
// code is no reason for the referral.
func TestReferralDeletedDiagnosis(t *testing.T) {
	raw := string(readCase(t, "v2-ref-i12"))
	const dysphagia = "DG1|2||R13.10^Dysphagia, unspecified^I10|||W"
	if !strings.Contains(raw, dysphagia+"\r") {
		t.Fatal("the case's DG1 changed")
	}
	raw = strings.Replace(raw, dysphagia, dysphagia+strings.Repeat("|", 15)+"D", 1)
	b, _, err := testConverter(t).ConvertRaw([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, sr := entryOf[*fhir.ServiceRequest](t, b)
	reasons := map[string]bool{}
	for _, r := range sr.ReasonReference {
		reasons[r.Reference] = true
	}
	for _, e := range b.Entry {
		if c, ok := e.Resource.(*fhir.Condition); ok {
			ref := "Condition/" + c.ID
			if del := c.VerificationStatus != nil; del == reasons[ref] {
				t.Errorf("%s (deleted %v) is a reason: %v", c.Code.Coding[0].Code, del, reasons[ref])
			}
		}
	}
}

// TestDiagnosingClinician: DG1-16, who made the diagnosis, is the
// Condition's asserter (the IG's DG1 map), not dropped.
func TestDiagnosingClinician(t *testing.T) {
	msg := strings.Replace(fmt.Sprintf(dg1ADT, "A3", "A"), "|20240316|F", "|20240316|F||||||||||1234567890^Chen^Wei^^^Dr.^^^NPI&2.16.840.1.113883.4.6&ISO^^^^NPI", 1)
	b := mustConvert(t, testConverter(t), msg)
	var dm *fhir.Condition
	for _, c := range entriesOf[fhir.Condition](b) {
		if c.Code.Coding[0].Code == "E11.9" {
			dm = c
		}
	}
	if dm == nil {
		t.Fatal("no E11.9 Condition")
	}
	prs := entriesOf[fhir.Practitioner](b)
	if dm.Asserter == nil || len(prs) != 1 || dm.Asserter.Reference != "Practitioner/"+prs[0].ID {
		t.Errorf("asserter %+v, want the NPI 1234567890 Practitioner (%d practitioners)", dm.Asserter, len(prs))
	}
	strictR4(t, marshal(t, b))
}
