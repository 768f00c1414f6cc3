package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOrderPriorityFromORC7: before v2.5 an order's timing and priority
// travel in ORC-7 (TQ, "Quantity/Timing"; OBR-27 "is identical to
// ORC-7", and senders fill one of them), which the IG's ORC[ServiceRequest]
// map reads as TQ[ServiceRequest] (TQ.6 priority). A STAT order whose
// ORC-7 alone said so (v2.3 ORM, no TQ1, OBR-27 empty) reached the
// exchange with no priority, as routine work; it is "stat" now, for an
// order and for the order a result writes.
func TestOrderPriorityFromORC7(t *testing.T) {
	for name, msg := range map[string]string{
		"ORM": "MSH|^~\\&|EPIC|SPRINGCLINIC|LIS|ACMELAB|20261124080000||ORM^O01|ORM-1|P|2.3\n" +
			"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F\n" +
			"ORC|NW|ORD-5001^EPIC|||||^^^20261124080000^^S||20261124080000\n" +
			"OBR|1|ORD-5001^EPIC||2951-2^Sodium^LN\n",
		"ORU": "MSH|^~\\&|LIS|ACMELAB|EPIC|SPRINGCLINIC|20261124093000||ORU^R01|LAB-1|P|2.3\n" +
			"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F\n" +
			"ORC|RE|ORD-5001^EPIC|L-1^ACMELAB||CM||^^^20261124080000^^S\n" +
			"OBR|1|ORD-5001^EPIC|L-1^ACMELAB|2951-2^Sodium^LN|||20261124081500||||||||||||||20261124092500|||F\n" +
			"OBX|1|NM|2951-2^Sodium^LN||139|mmol/L|136-145|N|||F\n",
	} {
		srs := entriesOf[fhir.ServiceRequest](mustConvert(t, testConverter(t), msg))
		if len(srs) != 1 || srs[0].Priority != "stat" {
			var got string
			if len(srs) == 1 {
				got = srs[0].Priority
			}
			t.Errorf("%s: %d orders, priority %q, want stat from ORC-7.6", name, len(srs), got)
		}
	}
}
