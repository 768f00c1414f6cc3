package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestTimingFromRXE1: an RDE of HL7 v2.3 or v2.4 has
// no TQ1; its timing is RXE-1, a TQ (quantity^interval^duration^start^
// end^priority...), whose interval (Q6H, BID: table 0335) says how often
// the dose is taken and whose start and end bound the prescription. The
// converter read TQ1 alone, so such a prescription reached the exchange
// with its dose and no frequency or dates: "5 mg" of what was "5 mg
// every 6 hours for 10 days". The IG's TQ to MedicationRequest map gives
// the interval as dosageInstruction.timing (its code, as TQ1-3 is), the
// start and end as its boundsPeriod, and TQ.3's duration (D10) bounds it
// when there is no end; X20 (twenty times) is its count.
func TestMedicationRequestTimingFromRXE1(t *testing.T) {
	const msg = `MSH|^~\&|PHARM|SPRINGCLINIC|FERRY|HIE|20240316090000||RDE^O11|RDE-50|P|2.3
PID|1||MRN100779^^^SPRINGCLINIC^MR||Doe^Jordan||19900101|F
ORC|NW|RX-50^EHR|||||||20240316085500
RXE|1^Q6H^D10^20240316080000|308182^amoxicillin 250 MG Oral Capsule^RXNORM|250||mg
ORC|NW|RX-51^EHR|||||||20240316085500
RXE|1^BID^^20240316^20240330|197361^amlodipine 5 MG Oral Tablet^RXNORM|5||mg
ORC|NW|RX-52^EHR|||||||20240316085500
RXE|^QD^X20|197361^amlodipine 5 MG Oral Tablet^RXNORM|5||mg`
	c := testConverter(t)
	b := mustConvert(t, c, msg)
	mrs := entriesOf[fhir.MedicationRequest](b)
	if len(mrs) != 3 {
		t.Fatalf("%d requests", len(mrs))
	}
	timing := func(i int) *fhir.Timing {
		if len(mrs[i].DosageInstruction) != 1 {
			return nil
		}
		return mrs[i].DosageInstruction[0].Timing
	}
	code := func(tm *fhir.Timing) string {
		if tm == nil || tm.Code == nil || len(tm.Code.Coding) == 0 || tm.Code.Coding[0].System != v2Table+"0335" {
			return ""
		}
		return tm.Code.Coding[0].Code
	}
	if tm := timing(0); code(tm) != "Q6H" || tm.Repeat == nil || tm.Repeat.BoundsPeriod == nil ||
		tm.Repeat.BoundsPeriod.Start == "" || tm.Repeat.BoundsPeriod.End == "" || tm.Repeat.BoundsPeriod.End[:10] != "2024-03-26" {
		t.Errorf("Q6H for 10 days: timing %s, want code Q6H of v2-0335 and a boundsPeriod from 2024-03-16T08:00 to 2024-03-26", toJSON(tm))
	}
	if tm := timing(1); code(tm) != "BID" || tm.Repeat == nil || tm.Repeat.BoundsPeriod == nil ||
		tm.Repeat.BoundsPeriod.Start != "2024-03-16" || tm.Repeat.BoundsPeriod.End != "2024-03-30" {
		t.Errorf("BID with start and end: timing %s, want code BID and boundsPeriod 2024-03-16 to 2024-03-30", toJSON(tm))
	}
	if tm := timing(2); code(tm) != "QD" || tm.Repeat == nil || tm.Repeat.Count != 20 {
		t.Errorf("QD twenty times: timing %s, want code QD and count 20", toJSON(tm))
	}
	strictR4(t, marshal(t, b))

	const bad = `MSH|^~\&|PHARM|SPRINGCLINIC|FERRY|HIE|20240316090000||RDE^O11|RDE-51|P|2.3
PID|1||MRN100779^^^SPRINGCLINIC^MR||Doe^Jordan||19900101|F
ORC|NW|RX-53^EHR|||||||20240316085500
RXE|1^Q6H^^2024-03-16|308182^amoxicillin 250 MG Oral Capsule^RXNORM|250||mg`
	if _, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(bad, "\n", "\r"))); err == nil || !strings.Contains(err.Error(), "RXE-1") {
		t.Errorf("a start RXE-1 cannot be read as: %v, want an error naming RXE-1", err)
	}
}
