package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBXUnitsAlternateUCUM: OBX-6 is a CWE whose alternate triplet
// (CWE.4-6) is the same unit in another coding system, the way a lab
// sends its own code first and UCUM beside it. Only the first triplet was
// read, so such a unit went out as text alone, and one sent in the
// alternate triplet only (^^^mmol/L^^UCUM) left the value with no unit at
// all: a sodium of 140 the exchange could not read. A UCUM alternate now
// gives the quantity (and its reference range) its system and code when
// the first triplet is no valid UCUM, and its unit text when the first
// has none; a valid UCUM first triplet still wins.
func TestOBXUnitsAlternateUCUM(t *testing.T) {
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-3|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Metabolic panel^LN|||20240401090000\n" +
		"OBX|1|NM|2345-7^Glucose^LN||105|MG/DL^milligrams per deciliter^L^mg/dL^milligrams per deciliter^UCUM|70-99|H|||F\n" +
		"OBX|2|NM|2951-2^Sodium^LN||140|^^^mmol/L^^UCUM|136-145|N|||F\n" +
		"OBX|3|NM|2160-0^Creatinine^LN||0.9|mg/dL^mg/dL^UCUM^MGDL^^99LAB|0.6-1.2|N|||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	for i, want := range []fhir.Quantity{
		{Value: "105", Unit: "milligrams per deciliter", System: sysUCUM, Code: "mg/dL"},
		{Value: "140", Unit: "mmol/L", System: sysUCUM, Code: "mmol/L"},
		{Value: "0.9", Unit: "mg/dL", System: sysUCUM, Code: "mg/dL"},
	} {
		o := obs[i]
		if o.ValueQuantity == nil || *o.ValueQuantity != want {
			t.Errorf("OBX %d: valueQuantity %+v, want %+v", i+1, o.ValueQuantity, want)
		}
		if len(o.ReferenceRange) != 1 || o.ReferenceRange[0].Low == nil || o.ReferenceRange[0].Low.Code != want.Code || o.ReferenceRange[0].Low.Unit != want.Unit {
			t.Errorf("OBX %d: reference range %+v, want its low in %s", i+1, o.ReferenceRange, want.Code)
		}
	}
}
