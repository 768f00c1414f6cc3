package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestScheduleDiagnosesAndObservations: SIU_S12's PATIENT group carries
// the patient's OBX and DG1 beside PID and PV1, and the v2-to-FHIR IG's
// SIU_S12 map writes them ("SIU_S12.PATIENT.OBX ... Observation[1]",
// "SIU_S12.PATIENT.DG1 ... Condition[1] ... Processing of the DG1
// segment results in the creation of a new Condition resource"), as
// ferry does for an ADT's and an order's. They were read past, so the
// diagnosis an appointment is booked for (the corpus's colonoscopy for
// ulcerative colitis) and the vital signs taken at booking reached the
// exchange only inside the message's Binary.
func TestScheduleDiagnosesAndObservations(t *testing.T) {
	c := testConverter(t)
	for _, name := range []string{"SIU-S12-01.hl7"} {
		b, _, err := c.ConvertRaw(corpusMessage(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var cond *fhir.Condition
		for _, cd := range entriesOf[fhir.Condition](b) {
			if cd.Code != nil && len(cd.Code.Coding) > 0 && cd.Code.Coding[0].Code == "64766004" {
				cond = cd
			}
		}
		if cond == nil {
			t.Errorf("%s: no Condition for DG1 64766004 (ulcerative colitis)", name)
		} else if cond.Subject == nil || cond.Subject.Reference == "" {
			t.Errorf("%s: Condition without its patient: %s", name, toJSON(cond))
		}
		var hr *fhir.Observation
		for _, o := range entriesOf[fhir.Observation](b) {
			if len(o.Code.Coding) > 0 && o.Code.Coding[0].Code == "8867-4" {
				hr = o
			}
		}
		if hr == nil {
			t.Errorf("%s: no Observation for OBX 8867-4 (heart rate)", name)
		}
		if entriesOf[fhir.Appointment](b) == nil {
			t.Errorf("%s: no Appointment", name)
		}
	}
}
