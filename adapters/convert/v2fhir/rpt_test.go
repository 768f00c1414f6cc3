package v2fhir

import (
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRepeatPatternCode: TQ1-3 is an RPT whose first component is the
// table 0335 code as a CWE of subcomponents ("Q6H&Every 6 hours&HL70335",
// as v2.5+ senders write it): the timing code is Q6H with its display, not
// the component's raw text, and the RPT's other components (period,
// event offset) are no part of it.
func TestRepeatPatternCode(t *testing.T) {
	const msg = `MSH|^~\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|PHARM|PHARM|20240316090000||RDE^O11^RDE_O11|RDE-5|P|2.5.1
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
ORC|NW|RX-1^EHR|||||||20240316085500
TQ1|1||%s
RXE||00047040230^Ampicillin 250 mg caps^NDC|250||mg^mg^UCUM`
	for _, tc := range []struct{ tq13, code, display string }{
		{"Q6H&Every 6 hours&HL70335^^^^6^h&hour&UCUM^^PCM^120^s", "Q6H", "Every 6 hours"},
		{"TID", "TID", ""},
	} {
		b := mustConvert(t, testConverter(t), fmt.Sprintf(msg, tc.tq13))
		mrs := entriesOf[fhir.MedicationRequest](b)
		if len(mrs) != 1 || len(mrs[0].DosageInstruction) != 1 || mrs[0].DosageInstruction[0].Timing == nil {
			t.Fatalf("%s: no timing in %+v", tc.tq13, mrs)
		}
		cc := mrs[0].DosageInstruction[0].Timing.Code
		if cc == nil || len(cc.Coding) != 1 {
			t.Fatalf("%s: timing code %+v", tc.tq13, cc)
		}
		if c := cc.Coding[0]; c.Code != tc.code || c.Display != tc.display || c.System != "http://terminology.hl7.org/CodeSystem/v2-0335" || cc.Text != "" {
			t.Errorf("%s: timing code %+v (text %q), want %s %q in v2-0335", tc.tq13, c, cc.Text, tc.code, tc.display)
		}
	}
}
