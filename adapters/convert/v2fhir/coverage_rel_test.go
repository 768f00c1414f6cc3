package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestCoverageRelationshipForeignCode: v2-0063 is a complete,
// case-sensitive code system of three-letter codes. An IN1-17 the map
// does not know that is no such code (an X12 individual relationship code
// such as 20, employee, which US senders often put there) must not be
// claimed as a v2-0063 code, which a terminology-checking validator
// rejects; it is kept as text. A lower-case table 0063 code is the code.
func TestCoverageRelationshipForeignCode(t *testing.T) {
	for _, tc := range []struct{ in117, sys, code, text string }{
		{"20^Employee", "", "", "Employee"},
		{"G8", "", "", "G8"},
		{"grd", v2Table + "0063", "GRD", ""},
	} {
		t.Run(tc.in117, func(t *testing.T) {
			msg := usADT + "PV1|1|O|||||||||||||||||V1^^^CLINICA\nIN1|1|PPO|BCBS01|Blue Cross||||G1|||||||||" + tc.in117
			covs := entriesOf[fhir.Coverage](mustConvert(t, testConverter(t), msg))
			if len(covs) != 1 || covs[0].Relationship == nil {
				t.Fatalf("Coverages %+v", covs)
			}
			r := covs[0].Relationship
			switch {
			case tc.sys == "" && len(r.Coding) != 0:
				t.Errorf("Coverage.relationship %+v claims a code, want text %q only", r, tc.text)
			case tc.sys != "" && (len(r.Coding) != 1 || r.Coding[0].System != tc.sys || r.Coding[0].Code != tc.code):
				t.Errorf("Coverage.relationship %+v, want %s|%s", r, tc.sys, tc.code)
			case r.Text != tc.text:
				t.Errorf("Coverage.relationship text %q, want %q", r.Text, tc.text)
			}
		})
	}
}
