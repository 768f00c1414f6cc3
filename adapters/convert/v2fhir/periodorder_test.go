package v2fhir

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// perOne reports whether p keeps FHIR R4's per-1 ("If present, start
// SHALL have a lower value than end"), comparing instants when both have
// a time and the common date precision otherwise.
func perOne(p *fhir.Period) bool {
	if p == nil || p.Start == "" || p.End == "" {
		return true
	}
	if len(p.Start) > 10 && len(p.End) > 10 {
		s, err1 := time.Parse(time.RFC3339Nano, p.Start)
		e, err2 := time.Parse(time.RFC3339Nano, p.End)
		if err1 == nil && err2 == nil {
			return !e.Before(s)
		}
	}
	n := min(len(p.Start), len(p.End), 10)
	return p.End[:n] >= p.Start[:n]
}

// TestEncounterDischargeBeforeAdmit: an A03 whose discharge time (PV1-45,
// or without it the event's, EVN-6) is before the admit time (PV1-44), a
// keying slip at the registration desk, made an Encounter whose period
// breaks FHIR R4's per-1: ferry answered AA once it was stored, and the
// exchange then refused the bundle, the discharge with it. Which of the
// two times is wrong the message cannot say, and they are the visit's
// own, so the message is refused naming the field (AE, kept in
// quarantine) rather than acknowledged and lost. A discharge an hour of
// wall clock "before" the admission across the autumn clock change is
// later, and converts.
func TestEncounterDischargeBeforeAdmit(t *testing.T) {
	c := testConverter(t)
	for _, tc := range []struct {
		name, msg, field string
	}{
		{"PV1-45", adtWith("A03", "D1", map[int]string{45: "20231231110000"}), "PV1-45"},
		{"EVN-6", strings.Replace(adtWith("A03", "D2", nil), "EVN|A03|20240105120000", "EVN|A03|20240105120000||||20231230090000", 1), "EVN-6"},
		{"planned end", adtWith("A05", "D3", map[int]string{2: "P", 45: "20231231"}), "PV1-45"},
	} {
		b, _, err := c.ConvertRaw([]byte(tc.msg))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			var p *fhir.Period
			if err == nil {
				for _, e := range entriesOf[fhir.Encounter](b) {
					p = e.Period
				}
			}
			t.Errorf("%s: err %v, period %+v (per-1 %v), want a content error naming %s", tc.name, err, p, perOne(p), tc.field)
		}
	}
	msg := adtWith("A03", "D4", map[int]string{44: "20241103013000-0400", 45: "20241103011000-0500"})
	encs := entriesOf[fhir.Encounter](mustConvert(t, c, msg))
	if len(encs) != 1 || encs[0].Period == nil || encs[0].Period.End != "2024-11-03T01:10:00-05:00" || !perOne(encs[0].Period) {
		t.Fatalf("across the clock change: %+v", encs)
	}
}

// TestIdentifierPeriodEndBeforeStart: an identifier's effective and
// expiration dates (CX-7, CX-8), as a PID-3 that lists an old, reissued
// MRN may carry them the wrong way round, were written as its period
// whatever their order: a Patient breaking per-1, which the exchange
// refuses with the whole bundle after ferry's AA. The expiration, which
// says nothing sure, is left out, as NK1-9 and IN1-13 are; the
// identifier and its start stay.
func TestIdentifierPeriodEndBeforeStart(t *testing.T) {
	msg := strings.Replace(usADT, "123^^^HOSP^MR", "123^^^HOSP^MR^^20240301^20240131", 1)
	pats := entriesOf[fhir.Patient](mustConvert(t, testConverter(t), msg))
	if len(pats) != 1 {
		t.Fatalf("Patients %+v", pats)
	}
	for _, id := range pats[0].Identifier {
		if id.Value != "123" {
			continue
		}
		if id.Period == nil || id.Period.Start != "2024-03-01" {
			t.Fatalf("identifier period %+v, want start 2024-03-01", id.Period)
		}
		if !perOne(id.Period) {
			t.Errorf("identifier period end %q before start %q (per-1)", id.Period.End, id.Period.Start)
		}
		return
	}
	t.Fatalf("no identifier 123: %+v", pats[0].Identifier)
}

// TestValidityEndBeforeStart: a name's, address's or telephone's
// effective and expiration dates (XPN-12/13, XAD-13/14, XTN-13/14) were
// written as its period whatever their order, breaking per-1 for the
// Patient. The expiration is left out, as an identifier's is.
func TestValidityEndBeforeStart(t *testing.T) {
	msg := strings.Replace(usADT, "Roe^Rick||19700101|M", "Roe^Rick^^^^^L^^^^^20240301^20240131||19700101|M|||1 Main St^^Springfield^IL^62701^USA^H^^^^^^20240301^20240131||^PRN^PH^^1^555^5550100^^^^^^20240301^20240131", 1)
	pats := entriesOf[fhir.Patient](mustConvert(t, testConverter(t), msg))
	if len(pats) != 1 {
		t.Fatalf("Patients %+v", pats)
	}
	p := pats[0]
	if len(p.Name) == 0 || len(p.Address) == 0 || len(p.Telecom) == 0 {
		t.Fatalf("name %+v address %+v telecom %+v", p.Name, p.Address, p.Telecom)
	}
	for what, per := range map[string]*fhir.Period{"name": p.Name[0].Period, "address": p.Address[0].Period, "telecom": p.Telecom[0].Period} {
		if per == nil || per.Start != "2024-03-01" {
			t.Errorf("%s period %+v, want start 2024-03-01", what, per)
		} else if !perOne(per) {
			t.Errorf("%s period end %q before start %q (per-1)", what, per.End, per.Start)
		}
	}
}

// TestMedicationTimingEndBeforeStart: a prescription whose end (TQ1-8,
// or TQ.5 in a v2.3/v2.4 RXE-1) is before its start (TQ1-7, TQ.4) gave
// its dosage timing a boundsPeriod breaking per-1, and the exchange
// refused the order after ferry's AA. How long the drug is to be taken is
// the order's instruction, and which time is wrong the message does not
// say: it is refused, naming the field, to be corrected.
func TestMedicationTimingEndBeforeStart(t *testing.T) {
	c := testConverter(t)
	for _, tc := range []struct {
		name, msg, field string
	}{
		{"TQ1", `MSH|^~\&|PHARM|SPRINGCLINIC|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-60|P|2.5.1
PID|1||MRN100779^^^SPRINGCLINIC^MR||Doe^Jordan||19900101|F
ORC|NW|RX-60^EHR|||||||20240316085500
RXE||308182^amoxicillin 250 MG Oral Capsule^RXNORM|250||mg^mg^UCUM
TQ1|1||Q8H^Every 8 hours^HL70335||||20240316|20240306`, "TQ1-8"},
		{"RXE-1", `MSH|^~\&|PHARM|SPRINGCLINIC|FERRY|HIE|20240316090000||RDE^O11|RDE-61|P|2.3
PID|1||MRN100779^^^SPRINGCLINIC^MR||Doe^Jordan||19900101|F
ORC|NW|RX-61^EHR|||||||20240316085500
RXE|1^BID^^20240316080000^20240315200000|197361^amlodipine 5 MG Oral Tablet^RXNORM|5||mg`, "RXE-1"},
	} {
		b, _, err := c.ConvertRaw([]byte(tc.msg))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			var p *fhir.Period
			if err == nil {
				for _, mr := range entriesOf[fhir.MedicationRequest](b) {
					if len(mr.DosageInstruction) > 0 && mr.DosageInstruction[0].Timing != nil && mr.DosageInstruction[0].Timing.Repeat != nil {
						p = mr.DosageInstruction[0].Timing.Repeat.BoundsPeriod
					}
				}
			}
			t.Errorf("%s: err %v, boundsPeriod %+v (per-1 %v), want a content error naming %s", tc.name, err, p, perOne(p), tc.field)
		}
	}
}

// TestBedPeriodMovedAfterDischarge: a transfer (A02) or class change
// (A06, A07) whose PV1 carries a discharge time (PV1-45) before the
// event's own time (EVN-6 or EVN-2), as senders that send the PV1 whole
// and late do, gave the bed the patient moved into a period from the
// move to the discharge: backwards, breaking per-1, and the exchange
// refused the visit after ferry's AA. The visit's own period is sound
// and is kept; the bed keeps the move's time, which is what the event
// says, and the end before it, which says nothing sure there, is left
// out.
func TestBedPeriodMovedAfterDischarge(t *testing.T) {
	c := testConverter(t)
	for _, tr := range []string{"A02", "A06", "A07"} {
		msg := adtWith(tr, "M"+tr, map[int]string{6: "W2^202^B", 45: "20240104110000"})
		encs := entriesOf[fhir.Encounter](mustConvert(t, c, msg))
		if len(encs) != 1 {
			t.Fatalf("%s: %d Encounters", tr, len(encs))
		}
		if !perOne(encs[0].Period) || encs[0].Period.End == "" {
			t.Errorf("%s: period %+v, want the visit's admit and discharge", tr, encs[0].Period)
		}
		for _, l := range encs[0].Location {
			if !perOne(l.Period) {
				t.Errorf("%s: %s period %+v ends before it starts (per-1)", tr, l.Location.Display, l.Period)
			} else if l.Location.Display == "W1 101 A" && (l.Period == nil || l.Period.Start != "2024-01-05T12:00:00-06:00") {
				t.Errorf("%s: bed period %+v, want it to start at the move", tr, l.Period)
			}
		}
	}
}

// TestResultVisitDischargeBeforeAdmit: the PV1 of a result (ORU) whose
// discharge time (PV1-45) is before its admit time (PV1-44), copied from
// a registration keyed wrong, would have the results refused with the
// visit's times: the results are what the message is about, and a visit
// time is not theirs to correct. The visit goes without the two times
// (it keeps its number and status), and the results are delivered.
func TestResultVisitDischargeBeforeAdmit(t *testing.T) {
	msg := "MSH|^~\\&|LAB|HOSP|HIE|HIE|20240105120000||ORU^R01^ORU_R01|L1|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		pv1Of(map[int]string{1: "1", 2: "I", 3: "W1^101^A", 19: "V77^^^HOSP^VN", 44: "20240101110000", 45: "20231231110000"}) +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|2345-7^Glucose^LN|||20240101120000\n" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^mg/dL^UCUM|||||F\n"
	b := mustConvert(t, testConverter(t), msg)
	if obs := entriesOf[fhir.Observation](b); len(obs) != 1 {
		t.Fatalf("%d observations", len(obs))
	}
	encs := entriesOf[fhir.Encounter](b)
	if len(encs) != 1 {
		t.Fatalf("%d Encounters", len(encs))
	}
	for _, e := range encs {
		if !perOne(e.Period) {
			t.Errorf("period %+v ends before it starts (per-1)", e.Period)
		}
		if e.Status == "finished" {
			t.Errorf("status finished from a discharge time the message contradicts")
		}
	}
}
