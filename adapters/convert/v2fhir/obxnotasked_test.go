package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBXNotAskedAbsentReason: OBX-11 N (table 0085 "Not asked; used to
// affirmatively document that the observation identified in the OBX was
// not sought when the universal service ID in OBR-4 implies that it would
// be sought") is, in the IG's OBX[Observation] map, dataAbsentReason
// not-asked. It was written not-performed, which says the lab tried and
// could not: what OBX-11 X says, and keeps saying.
func TestOBXNotAskedAbsentReason(t *testing.T) {
	for _, c := range []struct{ status, reason string }{
		{"N", "not-asked"},
		{"X", "not-performed"},
		{"I", "temp-unknown"},
		{"F", "unknown"},
	} {
		msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-1|P|2.5.1\n" +
			"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
			"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n" +
			"OBX|1|NM|1751-7^Albumin^LN||||||||" + c.status + "\n"
		obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
		if len(obs) != 1 {
			t.Fatalf("OBX-11 %s: %d observations", c.status, len(obs))
		}
		dar := obs[0].DataAbsentReason
		if dar == nil || len(dar.Coding) != 1 || dar.Coding[0].Code != c.reason || dar.Coding[0].System != fhir.DataAbsentReasonSystem {
			t.Errorf("OBX-11 %s: dataAbsentReason %s, want %s", c.status, toJSON(dar), c.reason)
		}
	}
}
