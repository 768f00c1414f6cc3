package v2fhir

import (
	"errors"
	"testing"
)

// TestPharmacyOrderWithoutRXENamesRXE: RDE_O11 requires an RXE in each
// order (HL7 v2.5.1 chapter 4A, RDE_O11: ORC ... ENCODING {RXE ...}). An
// order without one (nor an RXO that names the drug) was refused as
// "ORC-2: give code is empty", sending the contractor, and the sender's
// ACK (ERR-2 ORC-2, ERR-3 101), to the placer order number, which is
// there; it is refused as the RXE missing (ERR-3 100), and an RXE without
// its give code still names RXE-2.
func TestPharmacyOrderWithoutRXENamesRXE(t *testing.T) {
	const head = "MSH|^~\\&|PHARM|SPRINGCLINIC|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-31|P|2.5.1\r" +
		"PID|1||MRN100778^^^SPRINGCLINIC^MR||Doe^Jordan||19900101|F\r" +
		"ORC|NW|RX-31^EHR|||||||20240316085500\r"
	for _, tc := range []struct{ name, body, field, code string }{
		{"no RXE", "TQ1|1||BID^Twice a day^HL70335\rRXR|PO^Oral^HL70162\r", "RXE", "100"},
		{"RXO without code, no RXE", "RXO|||1||{tbl}^tablet^UCUM\r", "RXE", "100"},
		{"RXE without give code", "RXE||^^RXNORM|1||{tbl}^tablet^UCUM\r", "RXE-2", "101"},
	} {
		_, _, err := testConverter(t).ConvertRaw([]byte(head + tc.body))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != tc.field || ce.Code() != tc.code {
			t.Errorf("%s: error %v, want ContentError on %s (ERR-3 %s)", tc.name, err, tc.field, tc.code)
		}
	}
}
