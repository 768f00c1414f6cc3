package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// The tests in this file hold what ferry sends to US Core's mandatory
// (1..1, 1..*) elements when the HL7 v2 message does not carry them: US
// Core's "Missing Data" rule (hl7.org/fhir/us/core/STU6.1/general-
// requirements.html#missing-data) wants the element present with
// data-absent-reason "unknown" for a coded element whose value set has no
// unknown concept of its own, never a guessed code.

const usADT = `MSH|^~\&|ADT|CLINICA|HIE|HIE|20240105101500-0500||ADT^A04^ADT_A01|U100|P|2.5.1
EVN|A04|20240105101500-0500
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
`

func isUnknown(cc *fhir.CodeableConcept) bool {
	return cc != nil && len(cc.Coding) == 1 && cc.Coding[0].System == fhir.DataAbsentReasonSystem && cc.Coding[0].Code == "unknown"
}

// TestUSCoreEncounterType: US Core Encounter.type is 1..*. A PV1 without
// an admission type (PV1-4) gets data-absent-reason "unknown"; one with
// it keeps the v2-0007 code.
func TestUSCoreEncounterType(t *testing.T) {
	b := mustConvert(t, testConverter(t), usADT+"PV1|1|O|||||||||||||||||V1^^^CLINICA")
	enc := entriesOf[fhir.Encounter](b)
	if len(enc) != 1 || len(enc[0].Type) != 1 || !isUnknown(&enc[0].Type[0]) {
		t.Fatalf("Encounter.type %+v, want one data-absent-reason unknown", enc)
	}
	b = mustConvert(t, testConverter(t), usADT+"PV1|1|O||R|||||||||||||||V1^^^CLINICA")
	enc = entriesOf[fhir.Encounter](b)
	if len(enc) != 1 || len(enc[0].Type) != 1 || enc[0].Type[0].Coding[0].Code != "R" {
		t.Fatalf("Encounter.type %+v, want PV1-4 R", enc[0].Type)
	}
}

// TestUSCoreCoverageRelationship: US Core Coverage.relationship is 1..1.
// IN1-17 maps to subscriber-relationship; without it the element says
// unknown; a code the map does not know stays as a v2-0063 code.
func TestUSCoreCoverageRelationship(t *testing.T) {
	for _, tc := range []struct{ in117, sys, code string }{
		{"", fhir.DataAbsentReasonSystem, "unknown"},
		{"01", "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "spouse"},
		{"GRD", v2Table + "0063", "GRD"},
	} {
		t.Run(tc.in117, func(t *testing.T) {
			msg := usADT + "PV1|1|O|||||||||||||||||V1^^^CLINICA\nIN1|1|PPO|BCBS01|Blue Cross||||G1|||||||||" + tc.in117
			covs := entriesOf[fhir.Coverage](mustConvert(t, testConverter(t), msg))
			if len(covs) != 1 {
				t.Fatalf("%d Coverages", len(covs))
			}
			r := covs[0].Relationship
			if r == nil || len(r.Coding) == 0 || r.Coding[0].System != tc.sys || r.Coding[0].Code != tc.code {
				t.Fatalf("Coverage.relationship %+v, want %s|%s", r, tc.sys, tc.code)
			}
		})
	}
}

// TestUSCoreServiceRequestCode: US Core ServiceRequest.code is 1..1. An
// order sent as ORC alone (no OBR-4) says unknown rather than no code.
func TestUSCoreServiceRequestCode(t *testing.T) {
	msg := `MSH|^~\&|EHR|CLINIC|LAB|LAB|20240105101500-0500||ORM^O01|U200|P|2.3
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
ORC|NW|P100^EHR|F100^LAB||SC`
	srs := entriesOf[fhir.ServiceRequest](mustConvert(t, testConverter(t), msg))
	if len(srs) != 1 || !isUnknown(srs[0].Code) {
		t.Fatalf("ServiceRequest.code %+v, want data-absent-reason unknown", srs)
	}
}

// TestUSCoreVitalSignCategory: FHIR R4's vital-signs profile is mandatory
// for an Observation coded with one of its LOINC codes (observation-
// vitalsigns.html: "if implementations use this Observation resource to
// represent these vital signs, they SHALL conform"), and it and US Core
// slice category to vital-signs. An ORU's heart rate is not a lab result.
func TestUSCoreVitalSignCategory(t *testing.T) {
	msg := `MSH|^~\&|MON|CLINIC|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|U300|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^MON|85353-1^Vital signs panel^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|8867-4^Heart rate^LN||72|/min^/min^UCUM|||||F
OBX|2|NM|2345-7^Glucose^LN||105|mg/dL^mg/dL^UCUM|70-99|H|||F`
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	want := map[string]string{"8867-4": "vital-signs", "2345-7": "laboratory"}
	if len(obs) != 2 {
		t.Fatalf("%d Observations", len(obs))
	}
	for _, o := range obs {
		code := o.Code.Coding[0].Code
		if len(o.Category) != 1 || o.Category[0].Coding[0].Code != want[code] {
			t.Errorf("%s: category %+v, want %s", code, o.Category, want[code])
		}
	}
}

// TestUSCoreResultWithoutValue: US Core's result Observations (us-core-2)
// want value[x] or dataAbsentReason when there is no component. A result
// still pending (OBX-11 I, status registered) with an empty OBX-5 says
// "temp-unknown"; a final one with nothing in OBX-5 says "unknown".
func TestUSCoreResultWithoutValue(t *testing.T) {
	msg := `MSH|^~\&|LABAPP|CLINICLAB|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|U400|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^LAB|58410-2^CBC^LN|||20240105080000-0500||||||||||||||||||P
OBX|1|NM|6690-2^Leukocytes^LN||||||||I
OBX|2|NM|718-7^Hemoglobin^LN||||||||F
OBX|3|NM|4544-3^Hematocrit^LN||40.1|%^%^UCUM|||||F`
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	want := map[string]string{"6690-2": "temp-unknown", "718-7": "unknown", "4544-3": ""}
	for _, o := range obs {
		code := o.Code.Coding[0].Code
		got := ""
		if o.DataAbsentReason != nil {
			got = o.DataAbsentReason.Coding[0].Code
		}
		if got != want[code] {
			t.Errorf("%s: dataAbsentReason %q, want %q", code, got, want[code])
		}
	}
}

// TestUSCorePatientWithoutName: US Core Patient (us-core-6) wants each
// name to have a family or given name, or else the data-absent-reason
// extension. A PID without PID-5 gets the extension, not a name whose
// text is the word "unknown" (which fails us-core-6 and which an exchange
// shows as the patient's name).
func TestUSCorePatientWithoutName(t *testing.T) {
	msg := `MSH|^~\&|ADT|CLINICA|HIE|HIE|20240105101500-0500||ADT^A04^ADT_A01|U500|P|2.5.1
EVN|A04|20240105101500-0500
PID|1||123^^^HOSP^MR||||19700101|F`
	p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
	if len(p.Name) != 1 {
		t.Fatalf("names %+v", p.Name)
	}
	n := p.Name[0]
	if n.Text != "" || n.Family != "" || len(n.Given) != 0 || len(n.Extension) != 1 ||
		n.Extension[0].URL != "http://hl7.org/fhir/StructureDefinition/data-absent-reason" || n.Extension[0].ValueCode != "unknown" {
		t.Fatalf("name %+v, want only a data-absent-reason unknown extension", n)
	}
}

// TestUSCoreProcedureWithoutTime: US Core Procedure's us-core-7
// "Performed SHALL be present if the status is 'completed' or
// 'in-progress'". A PR1 is written completed; one whose PR1-5 (procedure
// date/time) the sender left empty carries _performedDateTime with
// data-absent-reason unknown, as the C-CDA converter's does; one with it
// keeps the time and no extension.
func TestUSCoreProcedureWithoutTime(t *testing.T) {
	for _, tc := range []struct{ pr15, want string }{{"", ""}, {"20240102", "2024-01-02"}} {
		msg := usADT + "PV1|1|O|||||||||||||||||V1^^^CLINICA\nPR1|1||80146002^Appendectomy^SCT||" + tc.pr15
		ps := entriesOf[fhir.Procedure](mustConvert(t, testConverter(t), msg))
		if len(ps) != 1 {
			t.Fatalf("PR1-5 %q: %d Procedures", tc.pr15, len(ps))
		}
		p := ps[0]
		if p.Status != "completed" || p.PerformedDateTime != tc.want || p.PerformedPeriod != nil {
			t.Fatalf("PR1-5 %q: status %q performedDateTime %q, want completed %q", tc.pr15, p.Status, p.PerformedDateTime, tc.want)
		}
		absent := p.PerformedDateTimeElement != nil && len(p.PerformedDateTimeElement.Extension) == 1 &&
			p.PerformedDateTimeElement.Extension[0].URL == fhir.DataAbsentReasonURL && p.PerformedDateTimeElement.Extension[0].ValueCode == "unknown"
		if absent != (tc.pr15 == "") || (tc.pr15 != "" && p.PerformedDateTimeElement != nil) {
			t.Fatalf("PR1-5 %q: _performedDateTime %+v", tc.pr15, p.PerformedDateTimeElement)
		}
	}
}

// TestUSCoreReportTimes: US Core's lab report has us-core-8 "effective[x]
// SHALL be present if the status is 'partial', 'preliminary', 'final',
// 'amended', 'corrected' or 'appended'" and us-core-9, the same of
// issued. A final OBR without OBR-7 (observation time) or OBR-22 (results
// reported) says unknown in their place; one with them keeps them; a
// report of unknown status (no OBR-25) needs neither.
func TestUSCoreReportTimes(t *testing.T) {
	const head = `MSH|^~\&|LABAPP|CLINICLAB|EHR|CLINIC|20240105101500-0500||ORU^R01^ORU_R01|U410|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
`
	absent := func(e *fhir.PrimitiveElement) bool {
		return e != nil && len(e.Extension) == 1 && e.Extension[0].URL == fhir.DataAbsentReasonURL && e.Extension[0].ValueCode == "unknown"
	}
	for _, tc := range []struct {
		name, obr               string
		absentEff, absentIssued bool
	}{
		{"final without times", "OBR|1|P1^EHR|F1^LAB|58410-2^CBC^LN|||||||||||||||||||||F", true, true},
		{"final without OBR-22", "OBR|1|P1^EHR|F1^LAB|58410-2^CBC^LN|||20240105080000-0500||||||||||||||||||F", false, true},
		{"final with both", "OBR|1|P1^EHR|F1^LAB|58410-2^CBC^LN|||20240105080000-0500|||||||||||||||20240105090000-0500|||F", false, false},
		{"status unknown", "OBR|1|P1^EHR|F1^LAB|58410-2^CBC^LN", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := head + tc.obr + "\nOBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL^g/dL^UCUM|||||F"
			drs := entriesOf[fhir.DiagnosticReport](mustConvert(t, testConverter(t), msg))
			if len(drs) != 1 {
				t.Fatalf("%d DiagnosticReports", len(drs))
			}
			dr := drs[0]
			if got := absent(dr.EffectiveDateTimeElement); got != tc.absentEff || (!got && dr.EffectiveDateTimeElement != nil) {
				t.Errorf("status %s, effectiveDateTime %q, _effectiveDateTime %+v, want absent %v", dr.Status, dr.EffectiveDateTime, dr.EffectiveDateTimeElement, tc.absentEff)
			}
			if got := absent(dr.IssuedElement); got != tc.absentIssued || (!got && dr.IssuedElement != nil) {
				t.Errorf("status %s, issued %q, _issued %+v, want absent %v", dr.Status, dr.Issued, dr.IssuedElement, tc.absentIssued)
			}
			if tc.absentEff == (dr.EffectiveDateTime != "") && dr.Status == "final" {
				t.Errorf("effectiveDateTime %q beside absent %v", dr.EffectiveDateTime, tc.absentEff)
			}
		})
	}
}
