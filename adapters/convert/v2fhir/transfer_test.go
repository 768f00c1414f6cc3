package v2fhir

import (
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// transferA02 is an A02 moving the visit V77 from W1 to W2, recorded at
// 12:05 (EVN-2) and carried out at 12:00 (EVN-6).
func transferA02(control, evn6 string) string {
	return "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240105120500||ADT^A02^ADT_A02|" + control + "|P|2.5.1\n" +
		"EVN|A02|20240105120500||||" + evn6 + "\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		pv1Of(map[int]string{1: "1", 2: "I", 3: "W2^201^A", 4: "E", 6: "W1^101^A", 19: "V77^^^HOSP^VN", 44: "20240101110000"})
}

// TestTransferLocationPeriods: an A02 is "issued as a result of the
// patient changing his or her assigned physical location ... The new
// patient location should appear in PV1-3 ... while the old patient
// location should appear in PV1-6" (HL7 v2.5.1 3.3.2), at the time EVN-6
// (Event Occurred, "the date/time that the event actually occurred") or,
// without it, EVN-2 says. Its Encounter listed the ward left "completed"
// and the new one "active" with no period, though FHIR R4 defines
// completed as "The patient was at this location during the period
// specified" and location.period as the "Time period during which the
// patient was present at the location": the exchange could not tell when
// the patient moved (a delivery held in the queue arrives hours later,
// and the Encounter's lastUpdated is then no guide), nor, once a second
// transfer had rewritten the visit, order the wards its versions list.
// The ward left now ends, and the new one starts, at the transfer's time;
// a re-send under a new MSH-10 writes the same.
func TestTransferLocationPeriods(t *testing.T) {
	for _, tc := range []struct {
		name, evn6, want string
	}{
		{"EVN-6", "20240105120000", "2024-01-05T12:00:00"},
		{"EVN-2 without EVN-6", "", "2024-01-05T12:05:00"},
	} {
		c := testConverter(t)
		var first []byte
		for _, control := range []string{"T1", "T1-RESENT"} {
			encs := entriesOf[fhir.Encounter](mustConvert(t, c, transferA02(control, tc.evn6)))
			if len(encs) != 1 || len(encs[0].Location) != 2 {
				t.Fatalf("%s: %d Encounters, %+v", tc.name, len(encs), encs)
			}
			now, left := encs[0].Location[0], encs[0].Location[1]
			if now.Location.Display != "W2 201 A" || now.Status != "active" || now.Period == nil ||
				!strings.HasPrefix(now.Period.Start, tc.want) || now.Period.End != "" {
				t.Errorf("%s: the new ward %+v %+v, want active from %s", tc.name, now, now.Period, tc.want)
			}
			if left.Location.Display != "W1 101 A" || left.Status != "completed" || left.Period == nil ||
				!strings.HasPrefix(left.Period.End, tc.want) || left.Period.Start != "" {
				t.Errorf("%s: the ward left %+v %+v, want completed at %s", tc.name, left, left.Period, tc.want)
			}
			got := marshal(t, &fhir.Bundle{Entry: []fhir.BundleEntry{{Resource: encs[0]}}})
			if first == nil {
				first = got
			} else if string(first) != string(got) {
				t.Errorf("%s: re-sent under a new MSH-10, the Encounter differs", tc.name)
			}
		}
	}
	// An invalid EVN-6 is refused naming the field, as PV1-44 is.
	_, _, err := testConverter(t).ConvertRaw([]byte(transferA02("T2", "2024-01-05")))
	if err == nil || !strings.Contains(err.Error(), "EVN-6") {
		t.Errorf("invalid EVN-6: %v, want an error naming EVN-6", err)
	}
	// Events other than a transfer carry a PV1-6 whose leaving time they
	// do not say (an A08's or A03's is the last transfer's): no period
	// (an A03's bed ends with the visit, TestDischargeBedEnds).
	for _, tr := range []string{"A01", "A03", "A08"} {
		msg := strings.Replace(transferA02("O"+tr, "20240105120000"), "ADT^A02^ADT_A02", "ADT^"+tr+"^ADT_A01", 1)
		for _, e := range entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg)) {
			for _, l := range e.Location {
				if l.Period != nil && !(tr == "A03" && l.Location.Display == "W2 201 A" && l.Period.Start == "") {
					t.Errorf("%s: location %s has period %+v", tr, l.Location.Display, l.Period)
				}
			}
		}
	}
	// The corpus's A02 (EVN-6 20210817151943.4+0200; its PV1-42 is a
	// third location, reserved).
	for _, e := range corpusEncounters(t, "ADT-A02-01.hl7") {
		if len(e.Location) < 2 || e.Location[1].Period == nil || !strings.HasPrefix(e.Location[1].Period.End, "2021-08-17T15:19:43") {
			t.Errorf("corpus A02: locations %+v, want the prior one ended at EVN-6", e.Location)
		}
	}
}

// TestDischargeWithoutPV145Ends: an A03 "signals that the patient's
// status has changed to 'discharged' and that a discharge date has been
// recorded" (HL7 v2.5.1 3.3.3), and senders leave PV1-45 empty when the
// event says when (EVN-6, or EVN-2). Its Encounter was "finished" with a
// period of no end, which FHIR R4 reads as "the period is ongoing": a
// finished visit still going on, whose length of stay the exchange could
// not tell. The discharge now ends the period at EVN-6, or EVN-2; PV1-45
// still wins, and an A13 that cancels the discharge still has no end.
func TestDischargeWithoutPV145Ends(t *testing.T) {
	for _, tc := range []struct {
		name, trigger, evn6, pv145, want string
	}{
		{"EVN-6", "A03", "20240105113000", "", "2024-01-05T11:30:00"},
		{"EVN-2", "A03", "", "", "2024-01-05T12:00:00"},
		{"PV1-45", "A03", "20240105113000", "20240105110000", "2024-01-05T11:00:00"},
		{"A13", "A13", "20240105113000", "", ""},
		{"A08", "A08", "20240105113000", "", ""},
	} {
		msg := adtWith(tc.trigger, "D"+tc.trigger, map[int]string{45: tc.pv145})
		msg = strings.Replace(msg, "EVN|"+tc.trigger+"|20240105120000", "EVN|"+tc.trigger+"|20240105120000||||"+tc.evn6, 1)
		encs := entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg))
		if len(encs) != 1 || encs[0].Period == nil {
			t.Fatalf("%s: %+v", tc.name, encs)
		}
		e := encs[0]
		if !strings.HasPrefix(e.Period.End, tc.want) || (tc.want == "") != (e.Period.End == "") {
			t.Errorf("%s: %s Encounter's period.end %q, want %q", tc.name, e.Status, e.Period.End, tc.want)
		}
	}
}

// TestClassChangeMoveDated: an A06 (outpatient to inpatient) or A07
// (inpatient to outpatient) moves the patient as an A02 does when the
// location changes: "The new patient location should appear in PV1-3 ...,
// while the old patient location (if different) should appear in PV1-6"
// (HL7 v2.5.1 3.3.6, 3.3.7). The corpus's A06 (from the waiting room to a
// bed) and A07 listed the location left "completed" with no period, as
// the A02 did; they now end it, and start the new one, at EVN-6. An A06
// without PV1-6 changes the class where the patient is: no period, since
// the patient was there before the event.
func TestClassChangeMoveDated(t *testing.T) {
	for _, f := range []string{"ADT-A06-01.hl7", "ADT-A07-01.hl7"} {
		raw, err := os.ReadFile("../../../../shared/corpus/hl7v2/" + f)
		if err != nil {
			t.Skip(err)
		}
		b, _, err := testConverter(t).ConvertRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		encs := entriesOf[fhir.Encounter](b)
		if len(encs) != 1 || len(encs[0].Location) != 2 {
			t.Fatalf("%s: %+v", f, encs)
		}
		now, left := encs[0].Location[0], encs[0].Location[1]
		const at = "2021-01-15T16:00:10+02:15"
		if now.Status != "active" || now.Period == nil || now.Period.Start != at {
			t.Errorf("%s: the new location %+v %+v, want active from %s", f, now, now.Period, at)
		}
		if left.Status != "completed" || left.Period == nil || left.Period.End != at {
			t.Errorf("%s: the location left %+v %+v, want completed at %s", f, left, left.Period, at)
		}
	}
	for _, tr := range []string{"A06", "A07"} {
		msg := adtWith(tr, "S"+tr, map[int]string{2: map[string]string{"A06": "I", "A07": "O"}[tr]})
		for _, e := range entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), msg)) {
			for _, l := range e.Location {
				if l.Period != nil {
					t.Errorf("%s without PV1-6: location %s has period %+v", tr, l.Location.Display, l.Period)
				}
			}
		}
	}
}
