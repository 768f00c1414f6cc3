package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationAdministrationUnit: a Medication Activity's dose of a
// countable form is a bare number, its unit the administrationUnitCode
// (HL7's C-CDA R2.1 CCD: Proventil, doseQuantity 2, administrationUnitCode
// PUFF). C-CDA on FHIR (CF-medications) maps "/administrationUnitCode" to
// "Medication.form"; it was dropped, so the exchange's clinician read a
// dose of "2" of an inhaler with nothing saying two of what.
func TestMedicationAdministrationUnit(t *testing.T) {
	sec := strings.Replace(dischargeMedSection, `<doseQuantity value="1"/>`, `<doseQuantity value="2"/>
   <administrationUnitCode code="PUFF" displayName="Puff" codeSystem="2.16.840.1.113883.5.85" codeSystemName="orderableDrugForm"/>`, 1)
	sec = strings.Replace(sec, `<code code="197361" codeSystem="2.16.840.1.113883.6.88" displayName="Amlodipine 5 MG Oral Tablet"/>`,
		`<code code="573621" codeSystem="2.16.840.1.113883.6.88" displayName="Proventil HFA 90 MCG/ACTUAT Metered Dose Inhaler"/>`, 1)
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
	if len(got["Medication"]) != 1 {
		t.Fatalf("%d Medications, want 1", len(got["Medication"]))
	}
	m := got["Medication"][0].(*fhir.Medication)
	if m.Form == nil || len(m.Form.Coding) != 1 || m.Form.Coding[0].Code != "PUFF" ||
		m.Form.Coding[0].System != "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm" {
		t.Errorf("Medication.form %+v, want v3-orderableDrugForm PUFF", m.Form)
	}

	// The same product named again without a unit keeps the form, and
	// a unit given only by its second mention is the product's form too.
	twice := strings.Replace(sec, `</section>`, `<entry>`+strings.Replace(strings.Replace(
		sec[strings.Index(sec, `<entry typeCode="DRIV">`)+len(`<entry typeCode="DRIV">`):strings.Index(sec, `</entry>`)],
		`dcmed1`, `dcmed2`, 1), `<administrationUnitCode code="PUFF" displayName="Puff" codeSystem="2.16.840.1.113883.5.85" codeSystemName="orderableDrugForm"/>`, "", 1)+`</entry></section>`, 1)
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", twice))
	if n := len(got["Medication"]) + len(got["MedicationRequest"]); n != 3 {
		t.Fatalf("%d Medications and MedicationRequests, want 1 and 2", n)
	}
	if m := got["Medication"][0].(*fhir.Medication); m.Form == nil || m.Form.Coding[0].Code != "PUFF" {
		t.Errorf("unit on the first mention: Medication.form %+v, want PUFF", m.Form)
	}
	rev := strings.Replace(twice, `<administrationUnitCode code="PUFF" displayName="Puff" codeSystem="2.16.840.1.113883.5.85" codeSystemName="orderableDrugForm"/>`, "", 1)
	rev = strings.Replace(rev, `<id root="9.9.9" extension="dcmed2"/>`, `<id root="9.9.9" extension="dcmed2"/><administrationUnitCode code="PUFF" displayName="Puff" codeSystem="2.16.840.1.113883.5.85"/>`, 1)
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", rev))
	if m := got["Medication"][0].(*fhir.Medication); m.Form == nil || m.Form.Coding[0].Code != "PUFF" {
		t.Errorf("unit on the second mention: Medication.form %+v, want PUFF", m.Form)
	}
}
