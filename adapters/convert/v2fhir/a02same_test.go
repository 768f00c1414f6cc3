package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestTransferSameLocationNotLeft: an A02 whose PV1-6 (prior location)
// is PV1-3's bed, as senders write a transfer that changed the service or
// attending doctor but not the bed, listed the bed twice: "active" from
// the event's time and "completed" until it, so the exchange showed the
// patient leaving the bed the patient is still in, at the moment of
// arriving there. HL7 v2.5.1 3.3.2 has PV1-6 as the location the patient
// moved from; one that is PV1-3 names no move (as an A06 or A07 whose
// PV1-6 is PV1-3, TestClassChangeMoveDated): the bed is listed once,
// active, undated, and no event's PV1-6 lists the bed PV1-3 names as
// left.
func TestTransferSameLocationNotLeft(t *testing.T) {
	for _, tr := range []string{"A02", "A06", "A08", "A12", "A13"} {
		msg := adtWith(tr, "S"+tr, map[int]string{6: "W1^101^A"})
		encs := entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg))
		if len(encs) != 1 {
			t.Fatalf("%s: %d Encounters", tr, len(encs))
		}
		var beds []fhir.EncounterLocation
		for _, l := range encs[0].Location {
			if l.Location.Display == "W1 101 A" {
				beds = append(beds, l)
			}
		}
		if len(beds) != 1 || beds[0].Status != "active" || beds[0].Period != nil {
			t.Errorf("%s: the bed is listed %+v, want once, active, undated", tr, beds)
		}
	}
	// A real transfer still dates both (TestTransferLocationPeriods).
	encs := entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), adtWith("A02", "SMOVE", map[int]string{6: "W0^1"})))
	if len(encs) != 1 || len(encs[0].Location) != 2 || encs[0].Location[0].Period == nil || encs[0].Location[1].Period == nil {
		t.Errorf("a transfer from W0: %+v, want both locations dated", encs)
	}
}
