package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPlannedVisitNotFinishedByDischargeTime: an A05 (pre-admit, "sent
// when a patient undergoes the pre-admission process", HL7 v2.5.1 3.3.5)
// or an A14 (pending admit, 3.3.14) tells of a visit that has not begun,
// "planned" (the v2-to-FHIR IG's event map has A05 so). Senders that send
// the PV1 whole fill PV1-45 there too (the corpus's ADT-A05-02 and
// ADT-A14-02 among them), and PV1-45 made every visit "finished", so the
// exchange read a visit not yet begun as one the patient had been
// admitted to and discharged from, the bed "completed" ("The patient was
// at this location during the period specified"). The visit stays
// planned, its bed planned; PV1-45 is still its period's end, the end
// planned for it (the IG's PV1 map: period.end).
func TestPlannedVisitNotFinishedByDischargeTime(t *testing.T) {
	for _, trigger := range []string{"A05", "A14"} {
		msg := adtWith(trigger, "P-"+trigger, map[int]string{45: "20240103110000"})
		encs := entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg))
		if len(encs) != 1 {
			t.Fatalf("%s: %d Encounters", trigger, len(encs))
		}
		e := encs[0]
		if e.Status != "planned" {
			t.Errorf("%s: status %q, want planned", trigger, e.Status)
		}
		if e.Period == nil || !strings.HasPrefix(e.Period.End, "2024-01-03T11:00") {
			t.Errorf("%s: period %+v, want PV1-45 its end", trigger, e.Period)
		}
		for _, l := range e.Location {
			if l.Location.Display == "W1 101 A" && (l.Status != "planned" || l.Period != nil) {
				t.Errorf("%s: the bed is %q %+v, want planned", trigger, l.Status, l.Period)
			}
		}
	}
}
