package v2fhir

import (
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestSSNNamedByItsFacilityStaysOut: a PID-3 repetition that names the
// Social Security Administration as its assigning facility (CX.6,
// "USSSA") with no assigning authority (CX.4) or type (CX.5) is an SSN
// as much as one under CX.4 USSSA or typed SS: the corpus's ADT^A06
// (and A07, A09, A10, A45, REF^I12, I14: 14 of its 139 messages) lists
// the patient's SSN so, 123456789^^^^^USSSA^. It was written to the
// exchange as a Patient identifier under the sending facility's minted
// system, though US Core says Patient.identifier SHOULD NOT carry an
// SSN and README has HL7 v2 never send one; it is left out as an SSN is,
// and never keys the patient.
func TestSSNNamedByItsFacilityStaysOut(t *testing.T) {
	msgs := map[string]string{
		"usssa": "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|GHH LAB|GHH|20240105101500||ADT^A08|A1|P|2.5.1\rEVN|A08|20240105101500\r" +
			"PID|1||PATID1234^^^HOSP^MR~123456789^^^^^USSSA^||Everyman^Adam||19610615|M\r",
		"ssa-first": "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|GHH LAB|GHH|20240105101500||ADT^A08|A1|P|2.5.1\rEVN|A08|20240105101500\r" +
			"PID|1||123456789^^^^^SSA~PATID1234^^^HOSP||Everyman^Adam||19610615|M\r",
		"ssa-oid": "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|GHH LAB|GHH|20240105101500||ADT^A08|A1|P|2.5.1\rEVN|A08|20240105101500\r" +
			"PID|1||123456789^^^^^&2.16.840.1.113883.4.1&ISO~PATID1234^^^HOSP||Everyman^Adam||19610615|M\r",
	}
	if raw, err := os.ReadFile("../../../../shared/corpus/hl7v2/ADT-A06-01.hl7"); err == nil {
		msgs["corpus-a06"] = string(raw)
	}
	for name, msg := range msgs {
		t.Run(name, func(t *testing.T) {
			b, _, err := testConverter(t).ConvertRaw([]byte(msg))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range entriesOf[fhir.Patient](b) {
				for _, id := range p.Identifier {
					if strings.ReplaceAll(id.Value, "-", "") == "123456789" {
						t.Errorf("the SSN is a Patient identifier: %+v", id)
					}
				}
				if len(p.Identifier) == 0 || p.Identifier[0].Value != "PATID1234" {
					t.Errorf("identifiers %+v, want PATID1234 first", p.Identifier)
				}
			}
		})
	}
}
