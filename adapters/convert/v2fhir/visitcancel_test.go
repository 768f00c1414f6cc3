package v2fhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// pv1Of builds a PV1 from its fields by number, the rest empty.
func pv1Of(fields map[int]string) string {
	var b strings.Builder
	b.WriteString("PV1")
	for i := 1; i <= 45; i++ {
		b.WriteString("|" + fields[i])
	}
	return b.String() + "\n"
}

// adtWith is an ADT message of the trigger with the given PV1 fields
// added to those of an inpatient visit V77 admitted on 2024-01-01.
func adtWith(trigger, control string, fields map[int]string) string {
	f := map[int]string{1: "1", 2: "I", 3: "W1^101^A", 4: "E", 7: "1234^Smith^John^^^^^^HOSP", 10: "MED", 19: "V77^^^HOSP^VN", 44: "20240101110000"}
	for k, v := range fields {
		f[k] = v
	}
	return fmt.Sprintf("MSH|^~\\&|ADT|HOSP|HIE|HIE|20240105120000||ADT^%s^ADT_A01|%s|P|2.5.1\nEVN|%s|20240105120000\n"+
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n", trigger, control, trigger) + pv1Of(f)
}

// TestA13ReopensVisit: an A13 cancels the discharge an A03 made (HL7
// v2.5.1 3.3.13: "sent when an A03 (discharge/end visit) event is
// cancelled"), and senders send it with the visit's PV1 as it stood,
// discharge time (PV1-45) and disposition (PV1-36) included. Its
// Encounter was in-progress but kept the cancelled discharge as its
// period.end and hospitalization.dischargeDisposition: written whole
// over the A03's, the visit the exchange shows as open still says when
// and how the patient left.
func TestA13ReopensVisit(t *testing.T) {
	msg := adtWith("A13", "C13", map[int]string{36: "01", 45: "20240103110000"})
	encs := entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg))
	if len(encs) != 1 {
		t.Fatalf("%d Encounters", len(encs))
	}
	e := encs[0]
	if e.Status != "in-progress" {
		t.Errorf("status %q, want in-progress", e.Status)
	}
	if e.Period == nil || e.Period.Start == "" {
		t.Errorf("period %+v, want the admission's start", e.Period)
	} else if e.Period.End != "" {
		t.Errorf("period.end %q: the cancelled discharge's time", e.Period.End)
	}
	if e.Hospitalization != nil && e.Hospitalization.DischargeDisposition != nil {
		t.Errorf("dischargeDisposition %+v: the cancelled discharge's", e.Hospitalization.DischargeDisposition)
	}
	for _, l := range e.Location {
		if l.Location.Display == "W1 101 A" && l.Status != "active" {
			t.Errorf("the patient's location is %q, want active", l.Status)
		}
	}
}

// TestADTKeylessVisitOnlyWhereItBegins: a PV1 with neither a visit
// number (PV1-19) nor an admit time (PV1-44) is keyed by its event time
// (EVN-2), which names the visit only in the message that begins it (an
// A01, A04, A05, A14, or the admission of an outpatient, A06 and A07) and
// its re-sends. Every later event of that visit
// has its own EVN-2: an A08 (sent at each change of an address or phone
// number) added one more Encounter to the patient each time, an A03 a
// finished one beside the A04's, left arrived, and an A11 a cancelled one
// beside the A01's, left in progress. Such an event now writes no
// Encounter (its PV1 still travels in the Binary), as a result's
// keyless PV1 does; the message that begins the visit still writes it.
func TestADTKeylessVisitOnlyWhereItBegins(t *testing.T) {
	keyless := map[int]string{3: "CLINIC^^^HOSP", 4: "", 7: "", 10: "", 19: "", 44: ""}
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		for _, tr := range []string{"A01", "A04", "A05", "A06", "A07", "A14"} {
			if n := len(entriesOf[fhir.Encounter](mustConvert(t, c, adtWith(tr, "B"+tr, keyless)))); n != 1 {
				t.Errorf("%s: %s writes %d Encounters, want its visit", mode, tr, n)
			}
		}
		for _, tr := range []string{"A02", "A03", "A08", "A11", "A12", "A13", "A45"} {
			b := mustConvert(t, c, adtWith(tr, "L"+tr, keyless))
			if n := len(entriesOf[fhir.Encounter](b)); n != 0 {
				t.Errorf("%s: %s writes %d Encounters keyed by its own event time", mode, tr, n)
			}
			if strings.Contains(string(marshal(t, b)), `"encounter"`) {
				t.Errorf("%s: %s refers to an Encounter", mode, tr)
			}
		}
		// With an admit time the visit is named, whatever the event.
		timed := map[int]string{19: ""}
		if n := len(entriesOf[fhir.Encounter](mustConvert(t, c, adtWith("A03", "T03", timed)))); n != 1 {
			t.Errorf("%s: an A03 with PV1-44 writes %d Encounters, want 1", mode, n)
		}
	}
}

// locationStatus returns the status of the Encounter's location shown as
// display, "" when it has none.
func locationStatus(t *testing.T, msg, display string) (string, bool) {
	t.Helper()
	encs := entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg))
	if len(encs) != 1 {
		t.Fatalf("%d Encounters", len(encs))
	}
	for _, l := range encs[0].Location {
		if l.Location.Display == display {
			return l.Status, true
		}
	}
	return "", false
}

// TestPreAdmitLocationPlanned: the bed of a pre-admission is where the
// patient will be, not where the patient is. The IG's PV1[Encounter] map
// gives PV1-3's location[1].status "planned" IF PV1-2.1 EQUALS "P"
// (else "active"), and FHIR R4 EncounterLocationStatus has "planned: The
// patient is planned to be moved to this location at some point in the
// future", "active: The patient is currently at this location". An A05
// (and A14) visit is planned too, whatever its class. It was active: an
// exchange's census of a ward counted the patients booked into it.
func TestPreAdmitLocationPlanned(t *testing.T) {
	for _, tc := range []struct {
		trigger, class, want string
	}{
		{"A05", "P", "planned"},
		{"A05", "I", "planned"},
		{"A14", "I", "planned"},
		{"A08", "P", "planned"},
		{"A01", "I", "active"},
		{"A04", "O", "active"},
		{"A02", "I", "active"},
	} {
		msg := adtWith(tc.trigger, "P"+tc.trigger, map[int]string{2: tc.class})
		if got, _ := locationStatus(t, msg, "W1 101 A"); got != tc.want {
			t.Errorf("%s, PV1-2 %s: PV1-3's location %q, want %q", tc.trigger, tc.class, got, tc.want)
		}
	}
}

// TestA12PriorLocationNotVisited: an A12 cancels a transfer (HL7 v2.5.1
// 3.3.12: "sent when an A02 (transfer a patient) event is cancelled,
// either because of erroneous entry of the A02 event or because of a
// decision not to transfer the patient after all"), its PV1-3 "must show
// the location of the patient prior to the original transfer", and its
// PV1-6 (prior location) is the one the cancelled transfer named. That
// was written as a location "completed", one the patient had been in and
// left: the exchange showed a stay in a ward the patient never went to.
// The A02's own PV1-6 stays a completed location.
func TestA12PriorLocationNotVisited(t *testing.T) {
	a12 := adtWith("A12", "C12", map[int]string{3: "W1^101^A", 6: "W2^201^A"})
	if got, _ := locationStatus(t, a12, "W1 101 A"); got != "active" {
		t.Errorf("A12: the location the patient stays in is %q, want active", got)
	}
	if got, ok := locationStatus(t, a12, "W2 201 A"); ok {
		t.Errorf("A12: the cancelled transfer's location is written, %q", got)
	}
	a02 := adtWith("A02", "C02", map[int]string{3: "W2^201^A", 6: "W1^101^A"})
	if got, _ := locationStatus(t, a02, "W1 101 A"); got != "completed" {
		t.Errorf("A02: the location the patient left is %q, want completed", got)
	}
}

// TestA38CancelsPreAdmit: an A38 is "sent when an A05 (pre-admit a
// patient) event is cancelled" (HL7 v2.5.1 3.3.38), and README has A38
// among the events whose visit is cancelled, but it was refused as an
// unsupported event (AR, quarantined), so the pre-admission ferry wrote
// stayed planned at the exchange. It now cancels the A05's Encounter.
func TestA38CancelsPreAdmit(t *testing.T) {
	c := testConverter(t)
	pre := entriesOf[fhir.Encounter](mustConvert(t, c, adtWith("A05", "P05", map[int]string{2: "P"})))
	b, _, err := c.ConvertRaw([]byte(adtWith("A38", "C38", map[int]string{2: "P"})))
	if err != nil {
		t.Fatalf("A38: %v", err)
	}
	encs := entriesOf[fhir.Encounter](b)
	if len(pre) != 1 || len(encs) != 1 {
		t.Fatalf("%d Encounters from the A05, %d from the A38", len(pre), len(encs))
	}
	if encs[0].ID != pre[0].ID || encs[0].Status != "cancelled" {
		t.Errorf("A38: Encounter %s %s, want the A05's %s cancelled", encs[0].ID, encs[0].Status, pre[0].ID)
	}
}

// TestCancelledVisitLocationNotActive: an A11 (cancel admit), A27 (cancel
// pending admit) or A38 (cancel pre-admit) writes the visit "cancelled",
// which FHIR R4 defines as "The Encounter has ended before it has begun",
// but its bed (PV1-3) was written "active", "The patient is currently at
// this location" (or "planned" for a pre-admission, "The patient is
// planned to be moved to this location at some point in the future"): a
// visit that never began, whose bed the exchange showed occupied or
// booked. None of R4's location statuses holds for it (location.status
// is 0..1), so the bed is kept without one; the prior location (PV1-6),
// where the patient was before, stays completed.
func TestCancelledVisitLocationNotActive(t *testing.T) {
	for _, tr := range []string{"A11", "A27", "A38"} {
		for _, class := range []string{"I", "P", "O"} {
			msg := adtWith(tr, "X"+tr, map[int]string{2: class, 3: "W2^201^A", 6: "ER^1^A"})
			got, ok := locationStatus(t, msg, "W2 201 A")
			if !ok || got != "" {
				t.Errorf("%s, PV1-2 %s: the cancelled visit's bed is %q (listed %v), want no status", tr, class, got, ok)
			}
			if prior, _ := locationStatus(t, msg, "ER 1 A"); prior != "completed" {
				t.Errorf("%s, PV1-2 %s: the prior location is %q, want completed", tr, class, prior)
			}
		}
	}
	// The corpus's A11 (PV1-2 P, with PV1-45).
	for _, e := range corpusEncounters(t, "ADT-A11-02.hl7") {
		if len(e.Location) == 0 || e.Location[0].Status != "" {
			t.Errorf("corpus A11: Encounter %s with locations %+v, want the bed without a status", e.Status, e.Location)
		}
	}
}
