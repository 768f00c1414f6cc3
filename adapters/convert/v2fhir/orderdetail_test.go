package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOrderDiagnosesAndObservations: an order's DG1 and OBX (ORM_O01 and
// OML_O21 ORDER_DETAIL: the reason for the order, the ask-at-order-entry
// answers a lab needs) are Conditions the ServiceRequest names as its
// reasonReference and Observations it names as supportingInfo (the IG's
// ORM_O01 map), each order its own, not dropped; an NTE after an OBX is
// that Observation's note, not the order's.
func TestOrderDiagnosesAndObservations(t *testing.T) {
	const msg = `MSH|^~\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|LAB|LAB|20240316090000||ORM^O01^ORM_O01|ORM-77|P|2.5.1
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
ORC|NW|ORD-1^EHR|||||||20240316085500
OBR|1|ORD-1^EHR||2345-7^Glucose^LN
NTE|1||Draw before breakfast
DG1|1||E11.9^Type 2 diabetes mellitus without complications^I10|||W
OBX|1|CWE|49541-6^Fasting status^LN|1|Y^Yes^HL70136||||||F
NTE|1||Patient says 12 hours
ORC|NW|ORD-2^EHR|||||||20240316085500
OBR|1|ORD-2^EHR||2093-3^Cholesterol^LN
OBX|1|CWE|49541-6^Fasting status^LN|1|N^No^HL70136||||||F`
	b := mustConvert(t, testConverter(t), msg)
	obs := map[string]*fhir.Observation{}
	for _, o := range entriesOf[fhir.Observation](b) {
		obs["Observation/"+o.ID] = o
	}
	conds := map[string]*fhir.Condition{}
	for _, c := range entriesOf[fhir.Condition](b) {
		conds["Condition/"+c.ID] = c
	}
	srs := map[string]*fhir.ServiceRequest{}
	for _, sr := range entriesOf[fhir.ServiceRequest](b) {
		srs[sr.Code.Coding[0].Code] = sr
	}
	glucose, chol := srs["2345-7"], srs["2093-3"]
	if glucose == nil || chol == nil {
		t.Fatalf("service requests %v", srs)
	}
	if len(glucose.ReasonReference) != 1 || conds[glucose.ReasonReference[0].Reference] == nil ||
		conds[glucose.ReasonReference[0].Reference].Code.Coding[0].Code != "E11.9" {
		t.Errorf("glucose order reasons %+v, want the E11.9 Condition (conditions %d)", glucose.ReasonReference, len(conds))
	}
	if len(chol.ReasonReference) != 0 {
		t.Errorf("cholesterol order reasons %+v, want none", chol.ReasonReference)
	}
	answer := func(sr *fhir.ServiceRequest) (string, string) {
		if len(sr.SupportingInfo) != 1 {
			t.Errorf("order %s supportingInfo %+v, want one Observation", sr.Code.Coding[0].Code, sr.SupportingInfo)
			return "", ""
		}
		o := obs[sr.SupportingInfo[0].Reference]
		if o == nil || o.ValueCodeableConcept == nil {
			t.Errorf("order %s supportingInfo %s is no Observation with a value", sr.Code.Coding[0].Code, sr.SupportingInfo[0].Reference)
			return "", ""
		}
		note := ""
		if len(o.Note) == 1 {
			note = o.Note[0].Text
		}
		return o.ValueCodeableConcept.Coding[0].Code, note
	}
	if v, note := answer(glucose); v != "Y" || note != "Patient says 12 hours" {
		t.Errorf("glucose order's observation %q (note %q), want Y with its note", v, note)
	}
	if v, _ := answer(chol); v != "N" {
		t.Errorf("cholesterol order's observation %q, want N", v)
	}
	if len(glucose.Note) != 1 || glucose.Note[0].Text != "Draw before breakfast" {
		t.Errorf("glucose order notes %+v, want only its own", glucose.Note)
	}
	strictR4(t, marshal(t, b))
}

// TestOrderAllergies: the AL1 of an order message's patient (ORM_O01,
// OML_O21: a lab or radiology order carries the contrast or latex
// allergy) are AllergyIntolerances as an ADT's are (the IG's ORM_O01
// map), not dropped; the same allergy from an ADT lands on the same
// resource.
func TestOrderAllergies(t *testing.T) {
	const orm = `MSH|^~\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|RAD|RAD|20240316090000||ORM^O01^ORM_O01|ORM-78|P|2.5.1
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
AL1|1|DA|C0009924^Iodinated contrast media^UMLS|SV|Anaphylaxis
ORC|NW|ORD-3^EHR|||||||20240316085500
OBR|1|ORD-3^EHR||24725-4^CT Head^LN`
	const adt = `MSH|^~\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||ADT^A08^ADT_A01|ADT-79|P|2.5.1
EVN|A08|20240316085955
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
AL1|1|DA|C0009924^Iodinated contrast media^UMLS|SV|Anaphylaxis`
	c := testConverter(t)
	fromORM := entriesOf[fhir.AllergyIntolerance](mustConvert(t, c, orm))
	fromADT := entriesOf[fhir.AllergyIntolerance](mustConvert(t, c, adt))
	if len(fromORM) != 1 || len(fromADT) != 1 {
		t.Fatalf("allergies: %d from the order, %d from the ADT", len(fromORM), len(fromADT))
	}
	if a := fromORM[0]; a.Code.Coding[0].Code != "C0009924" || a.ID != fromADT[0].ID {
		t.Errorf("order's allergy %s (Allergy/%s), the ADT's AllergyIntolerance/%s", a.Code.Coding[0].Code, a.ID, fromADT[0].ID)
	}
	// OML_O21's PRIOR_RESULT repeats the allergies a prior result was
	// reported with: not the message's patient's, and no second copy.
	oml := strings.Replace(orm, "ORM^O01^ORM_O01", "OML^O21^OML_O21", 1) + `
PV1|1|O
AL1|1|DA|C0009924^Iodinated contrast media^UMLS|SV|Anaphylaxis
ORC|RE|ORD-0^EHR
OBR|1|ORD-0^EHR||24725-4^CT Head^LN`
	if n := len(entriesOf[fhir.AllergyIntolerance](mustConvert(t, c, oml))); n != 1 {
		t.Errorf("%d allergies from an OML with a prior result, want 1", n)
	}
}
