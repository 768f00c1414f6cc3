package v2fhir

import (
	"errors"
	"testing"
)

// TestDispenseWithoutORCNamesORC: RDS_O13 requires the ORC of the order
// each RXD fills (HL7 v2.5.1 chapter 4A, RDS_O13: ORDER {ORC ... RXD
// ...}), whose number keys the MedicationDispense. An RXD sent without
// one was refused as "RXD-2: dispense has no order number (ORC-2/ORC-3)",
// naming the give code, which is there (ERR-2 RXD-2, ERR-3 101); it is
// refused as the ORC missing before the RXD (ERR-3 100), an ORC without
// either number still naming ORC-2.
func TestDispenseWithoutORCNamesORC(t *testing.T) {
	const head = "MSH|^~\\&|PHARM|SPRINGCLINIC|FERRY|HIE|20240316090000||RDS^O13^RDS_O13|RDS-31|P|2.5.1\r" +
		"PID|1||MRN100780^^^SPRINGCLINIC^MR||Doe^Jordan||19900101|F\r"
	const rxd = "RXD|1|860975^Metformin hydrochloride 500 MG Oral Tablet^RXNORM|20240316101500|60|{tbl}^tablet^UCUM\r"
	for _, tc := range []struct{ name, body, field, code string }{
		{"no ORC", rxd, "ORC", "100"},
		{"ORC without numbers", "ORC|RE\r" + rxd, "ORC-2", "101"},
	} {
		_, _, err := testConverter(t).ConvertRaw([]byte(head + tc.body))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != tc.field || ce.Code() != tc.code {
			t.Errorf("%s: error %v, want ContentError on %s (ERR-3 %s)", tc.name, err, tc.field, tc.code)
		}
	}
}
