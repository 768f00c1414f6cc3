package v2fhir

import (
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOrderAuthoredOnlyWhenNew: ORC-9 is the time of the message's own
// transaction, and only a new order's (ORC-1 NW) is when the order was
// placed; the IG's ORC[ServiceRequest] map writes authoredOn from it "IF
// ORC.1 IS NW", as a result's order already did. An order message that
// changes or cancels the order with its OBR (XO, CA, SC) wrote its own
// time as authoredOn, so the order, written whole, read at the exchange
// as placed when it was changed or cancelled.
func TestOrderAuthoredOnlyWhenNew(t *testing.T) {
	const orm = "MSH|^~\\&|EPIC|SPRINGCLINIC|LIS|ACMELAB|%s||ORM^O01^ORM_O01|%s|P|2.5.1\n" +
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F\n" +
		"ORC|%s|ORD-5001^EPIC|||%s||||%[1]s\n" +
		"OBR|1|ORD-5001^EPIC||24331-1^Lipid panel^LN\n"
	for _, tc := range []struct{ orc1, orc5, when, want string }{
		{"NW", "", "20261124080000", "2026-11-24T08:00:00"},
		{"XO", "", "20261124093000", ""},
		{"CA", "CA", "20261124100000", ""},
		{"SC", "IP", "20261124110000", ""},
	} {
		b := mustConvert(t, testConverter(t), fmt.Sprintf(orm, tc.when, "ORM-"+tc.orc1, tc.orc1, tc.orc5))
		srs := entriesOf[fhir.ServiceRequest](b)
		if len(srs) != 1 {
			t.Fatalf("ORC-1 %s: %d orders", tc.orc1, len(srs))
		}
		if got := srs[0].AuthoredOn; len(got) < len(tc.want) || got[:len(tc.want)] != tc.want || (tc.want == "" && got != "") {
			t.Errorf("ORC-1 %s: authoredOn %q, want %q", tc.orc1, got, tc.want)
		}
	}
}
