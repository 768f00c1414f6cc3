package v2fhir

import (
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestAuthoredOnlyWhenNew: ORC-9 is the time of the
// transaction ORC-1 names (HL7 v2.5.1 4.5.1.9: "the date and time of the
// event that initiated the current transaction as reflected in ORC-1"),
// and MedicationRequest.authoredOn is "when the prescription was
// initially written". An RDE that changes, discontinues or asks to
// refill the prescription (XO, DC, RDE^O25's RF) is written whole over
// the one the new order (NW) wrote, so it must leave authoredOn out
// rather than date the prescription at the change, as an ORM's order does.
func TestMedicationRequestAuthoredOnlyWhenNew(t *testing.T) {
	const rde = "MSH|^~\\&|EHR|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|PHARM|PHARM|%s||RDE^%s^RDE_O11|%s|P|2.5.1\n" +
		"PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F\n" +
		"ORC|%s|RX-1^EHR|||%s||||%[1]s\n" +
		"RXE||860975^Metformin hydrochloride 500 MG Oral Tablet^RXNORM|500||mg^mg^UCUM"
	for _, tc := range []struct{ event, orc1, orc5, when, want string }{
		{"O11", "NW", "", "20240316085500", "2024-03-16T08:55:00"},
		{"O11", "XO", "", "20240320101500", ""},
		{"O11", "DC", "DC", "20240322090000", ""},
		{"O25", "RF", "", "20240415080000", ""},
	} {
		b := mustConvert(t, testConverter(t), fmt.Sprintf(rde, tc.when, tc.event, "RDE-"+tc.orc1, tc.orc1, tc.orc5))
		mrs := entriesOf[fhir.MedicationRequest](b)
		if len(mrs) != 1 {
			t.Fatalf("ORC-1 %s: %d requests", tc.orc1, len(mrs))
		}
		if got := mrs[0].AuthoredOn; len(got) < len(tc.want) || got[:len(tc.want)] != tc.want || (tc.want == "" && got != "") {
			t.Errorf("ORC-1 %s: authoredOn %q, want %q", tc.orc1, got, tc.want)
		}
	}
}
