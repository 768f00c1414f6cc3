package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVXUObservations: the OBX of a VXU's order group (the CDC guide's
// funding eligibility, VIS document type and dates) are Observations
// partOf that group's Immunization (the IG's VXU_V04 map), not dropped;
// two administrations with the same OBX code and sub-id stay two
// Observations, each part of its own Immunization, and an OBX before
// any order (PERSON_OBSERVATION) is the patient's.
func TestVXUObservations(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0002|P|2.5.1
PID|1||MRN200777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Mateo||20230105|M
OBX|1|CE|59784-9^Disease with presumed immunity^LN|1|38907003^Varicella infection^SCT||||||F
ORC|RE||IZ-13696^SPRINGCLINIC
RXA|0|1|20240401101500||08^Hep B, adolescent or pediatric^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||HB4410A||MSD^Merck and Co., Inc.^MVX|||CP|A
OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V02^VFC eligible - Medicaid/Medicaid Managed Care^HL70064||||||F|||20240401
OBX|2|TS|29768-9^Date vaccine information statement published^LN|2|20120202||||||F
NTE|1||VIS given to parent
ORC|RE||IZ-13697^SPRINGCLINIC
RXA|0|1|20240401102000||20^DTaP^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||DT1||PMC^Sanofi^MVX|||CP|A
OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V01^Not VFC eligible^HL70064||||||F|||20240401`
	b := mustConvert(t, testConverter(t), msg)
	ref := map[*fhir.Immunization]string{}
	for _, e := range b.Entry {
		if imm, ok := e.Resource.(*fhir.Immunization); ok {
			ref[imm] = "Immunization/" + imm.ID
		}
	}
	byLot := map[string]string{}
	for imm, r := range ref {
		byLot[imm.LotNumber] = r
	}
	if len(byLot) != 2 {
		t.Fatalf("immunizations: %v", byLot)
	}
	type seen struct{ value, partOf, note string }
	var got []seen
	ids := map[string]bool{}
	for _, o := range entriesOf[fhir.Observation](b) {
		s := seen{}
		switch {
		case o.ValueCodeableConcept != nil && len(o.ValueCodeableConcept.Coding) > 0:
			s.value = o.ValueCodeableConcept.Coding[0].Code
		case o.ValueDateTime != "":
			s.value = o.ValueDateTime
		}
		if len(o.PartOf) == 1 {
			s.partOf = o.PartOf[0].Reference
		}
		if len(o.Note) == 1 {
			s.note = o.Note[0].Text
		}
		if o.Subject == nil || o.Subject.Reference == "" {
			t.Errorf("observation %s has no subject", s.value)
		}
		ids[o.ID] = true
		got = append(got, s)
	}
	want := []seen{
		{value: "38907003"},
		{value: "V02", partOf: byLot["HB4410A"]},
		{value: "2012-02-02", partOf: byLot["HB4410A"], note: "VIS given to parent"},
		{value: "V01", partOf: byLot["DT1"]},
	}
	if len(got) != len(want) || len(ids) != len(want) {
		t.Fatalf("observations %+v (%d ids), want %+v", got, len(ids), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("observation %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	strictR4(t, marshal(t, b))
}

// TestImmunizationRXAFields: the RXA fields the IG's RXA map writes reach
// the Immunization: the lot's expiration date (RXA-16, a date), the
// indications (RXA-19, every repetition) and, for an added record, its
// system entry time (RXA-22) as recorded.
func TestImmunizationRXAFields(t *testing.T) {
	const msg = `MSH|^~\&|IMMREG|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|VXU-0003|P|2.5.1
PID|1||MRN200777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Rivera^Mateo||20230105|M
ORC|RE||IZ-13696^SPRINGCLINIC
RXA|0|1|20240401101500||08^Hep B, adolescent or pediatric^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||||||HB4410A|20250630000000|MSD^Merck and Co., Inc.^MVX||Z23^Encounter for immunization^I10~Z20.5^Contact with viral hepatitis^I10|CP|A|20240401102500`
	imms := entriesOf[fhir.Immunization](mustConvert(t, testConverter(t), msg))
	if len(imms) != 1 {
		t.Fatalf("%d immunizations", len(imms))
	}
	imm := imms[0]
	if imm.ExpirationDate != "2025-06-30" {
		t.Errorf("expirationDate %q, want 2025-06-30", imm.ExpirationDate)
	}
	if len(imm.ReasonCode) != 2 || imm.ReasonCode[0].Coding[0].Code != "Z23" || imm.ReasonCode[1].Coding[0].Code != "Z20.5" {
		t.Errorf("reasonCode %+v, want Z23 and Z20.5", imm.ReasonCode)
	}
	if imm.Recorded != "2024-04-01T10:25:00-05:00" {
		t.Errorf("recorded %q, want 2024-04-01T10:25:00-05:00", imm.Recorded)
	}
}
