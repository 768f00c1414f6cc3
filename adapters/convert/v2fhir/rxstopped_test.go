package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestDiscontinuedIsStopped: an RDE that discontinues a
// prescription (ORC-1 DC, OD or DR, table 0119; or ORC-5 DC, "Order was
// discontinued", table 0038), a drug the patient may have taken for
// months, was written "cancelled", which FHIR R4 MedicationRequest
// defines as "The prescription has been withdrawn before any
// administrations have occurred", so the exchange's medication list said
// it was never taken. A discontinued one is "stopped" ("Actions implied
// by the prescription are to be permanently halted, before all of the
// administrations occurred"); one cancelled (CA, OC, CR, ORC-5 CA) is
// still "cancelled", and a ServiceRequest's either is "revoked" as before.
func TestMedicationRequestDiscontinuedIsStopped(t *testing.T) {
	const head = "MSH|^~\\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-33|P|2.5.1\r" +
		"PID|1||MRN100781^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F\r"
	const rxe = "RXE||860975^Metformin hydrochloride 500 MG Oral Tablet^RXNORM|500||mg^mg^UCUM\r"
	for _, tc := range []struct{ orc, want string }{
		{"ORC|DC|RX-40^EHR", "stopped"},
		{"ORC|OD|RX-40^EHR", "stopped"},
		{"ORC|DR|RX-40^EHR", "stopped"},
		{"ORC|SC|RX-40^EHR|||DC", "stopped"},
		{"ORC|CA|RX-40^EHR", "cancelled"},
		{"ORC|OC|RX-40^EHR", "cancelled"},
		{"ORC|SC|RX-40^EHR|||CA", "cancelled"},
		{"ORC|NW|RX-40^EHR", "active"},
	} {
		b := mustConvert(t, testConverter(t), head+tc.orc+"\r"+rxe)
		mrs := entriesOf[fhir.MedicationRequest](b)
		if len(mrs) != 1 || mrs[0].Status != tc.want {
			t.Errorf("%s: %s, want status %s", tc.orc, toJSON(mrs), tc.want)
		}
	}
	const orm = "MSH|^~\\&|EHR|SPRINGCLINIC|LAB|HIE|20240316090000||ORM^O01^ORM_O01|ORM-33|P|2.5.1\r" +
		"PID|1||MRN100781^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F\r" +
		"ORC|NW|ORD-40^EHR|||DC\rOBR|1|ORD-40^EHR||2345-7^Glucose^LN\r"
	srs := entriesOf[fhir.ServiceRequest](mustConvert(t, testConverter(t), orm))
	if len(srs) != 1 || srs[0].Status != "revoked" {
		t.Errorf("ServiceRequest discontinued: %s, want revoked", toJSON(srs))
	}
}
