package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPendingDischargeNotFinished: an A16 "notifies other systems of a
// plan to discharge a patient when the patient has not yet left the
// healthcare facility" (HL7 v2.5.1 3.3.16), and an A25 is sent when that
// A16 is cancelled, "because of a decision not to discharge the patient
// after all" (3.3.25). Senders that send the PV1 whole fill PV1-45 there
// too (the discharge planned, or, in an A25, the one no longer planned;
// the corpus's ADT-A25-02 among them), and PV1-45 made the visit
// "finished" with that end and the bed "completed": the exchange read the
// patient as discharged by the very message that says they were not.
// Both now write the visit in progress with no end, the bed active; an
// A25, like an A13, also drops the disposition (PV1-36) of the discharge
// it cancels.
func TestPendingDischargeNotFinished(t *testing.T) {
	for _, trigger := range []string{"A16", "A25"} {
		msg := adtWith(trigger, "D-"+trigger, map[int]string{36: "01", 45: "20240103110000"})
		encs := entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg))
		if len(encs) != 1 {
			t.Fatalf("%s: %d Encounters", trigger, len(encs))
		}
		e := encs[0]
		if e.Status != "in-progress" {
			t.Errorf("%s: status %q, want in-progress", trigger, e.Status)
		}
		if e.Period == nil || e.Period.Start == "" || e.Period.End != "" {
			t.Errorf("%s: period %+v, want the admission's start and no end", trigger, e.Period)
		}
		for _, l := range e.Location {
			if l.Location.Display == "W1 101 A" && (l.Status != "active" || l.Period != nil) {
				t.Errorf("%s: the bed is %q %+v, want active", trigger, l.Status, l.Period)
			}
		}
		disposed := e.Hospitalization != nil && e.Hospitalization.DischargeDisposition != nil
		if trigger == "A25" && disposed {
			t.Errorf("A25: dischargeDisposition %+v: the cancelled pending discharge's", e.Hospitalization.DischargeDisposition)
		}
	}
}
