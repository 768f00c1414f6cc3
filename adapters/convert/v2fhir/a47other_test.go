package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestChangeOfAnotherIdentifierRetiresNothing: an A47 says "a single
// PID-3 - Patient Identifier List value has been found to be incorrect
// and has been changed" (HL7 v2.5.1 3.3.47), the incorrect one in MRG-1,
// and it is not always the number the record is keyed by: a registrar
// correcting a mistyped SSN, or the enterprise id of an MPI, sends one
// too, PID-3 listing the unchanged MRN beside the corrected number. The
// record keyed by that MRN must be written from its PID, as an update,
// and nothing retired: an SSN-only MRG-1 was refused (AE, "no prior
// patient identifier"), stalling the ADT feed on a routine correction,
// and an enterprise id was written as a Patient of its own, inactive and
// replaced-by the patient, whose conditional update (patient-conditional)
// names the very record the MRN names, since it carried the old number,
// so the exchange refused the transaction ("If any resource identities
// (including resolved identities from conditional update/delete)
// overlap ... the transaction SHALL fail", FHIR R4 3.1.0.11.2). A change
// of the keyed number itself (the MRN) still retires the old record.
func TestChangeOfAnotherIdentifierRetiresNothing(t *testing.T) {
	const head = "MSH|^~\\&|ADT|CLINICA|HIE|HIE|20240105101500||ADT^A47^ADT_A30|A47-1|P|2.5.1\n" +
		"EVN|A47|20240105101500\n"
	for _, tc := range []struct {
		name, pid, mrg string
		merged         bool
	}{
		{"ssn", "PID|1||100^^^HOSP^MR~222334444^^^SSA^SS||Roe^Rick||19700101|M\n", "MRG|222334445^^^SSA^SS\n", false},
		{"ssn-typed", "PID|1||100^^^HOSP^MR~222-33-4444^^^^SS||Roe^Rick||19700101|M\n", "MRG|222-33-4445^^^^SS\n", false},
		{"enterprise-id", "PID|1||100^^^HOSP^MR~E77^^^EMPI^PI||Roe^Rick||19700101|M\n", "MRG|E66^^^EMPI^PI\n", false},
		{"second-number-same-authority", "PID|1||100^^^HOSP^MR~55^^^HOSP^PI||Roe^Rick||19700101|M\n", "MRG|54^^^HOSP^PI\n", false},
		{"prior-list-whole", "PID|1||100^^^HOSP^MR~E77^^^EMPI^PI||Roe^Rick||19700101|M\n", "MRG|100^^^HOSP^MR~E66^^^EMPI^PI\n", false},
		{"mrn", "PID|1||100^^^HOSP^MR~E77^^^EMPI^PI||Roe^Rick||19700101|M\n", "MRG|99^^^HOSP^MR\n", true},
		{"mrn-alone", "PID|1||100^^^HOSP^MR||Roe^Rick||19700101|M\n", "MRG|99^^^HOSP^MR\n", true},
	} {
		for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				c := testConverter(t)
				c.Mode = mode
				b, res, err := c.ConvertRaw([]byte(strings.ReplaceAll(head+tc.pid+tc.mrg, "\n", "\r")))
				if err != nil {
					t.Fatal(err)
				}
				var active, inactive int
				for _, e := range b.Entry {
					p, ok := e.Resource.(*fhir.Patient)
					if !ok {
						continue
					}
					if p.Active != nil && !*p.Active {
						inactive++
						continue
					}
					active++
					if p.Identifier[0].Value != "100" {
						t.Errorf("the patient written is keyed by %s, want the MRN 100", p.Identifier[0].Value)
					}
				}
				if active != 1 {
					t.Errorf("%d current Patients, want 1", active)
				}
				if tc.merged {
					if inactive != 1 || len(res.Merges) != 1 || res.Merges[0].Retired.Value != "99" {
						t.Errorf("the MRN change retired %d records (merges %+v), want 99", inactive, res.Merges)
					}
					return
				}
				if inactive != 0 || len(res.Merges) != 0 {
					t.Errorf("a change of another identifier retired %d records (merges %+v), want none", inactive, res.Merges)
				}
			})
		}
	}
}
