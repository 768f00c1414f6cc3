package v2fhir

import (
	"os"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMedicationRequestTimingBounds: TQ1-7 and TQ1-8 say when a
// prescription starts and ends, and TQ1-6 how long it goes on (ten days
// of an antibiotic); the v2-to-FHIR IG's TQ1 to MedicationRequest map
// gives them as dosageInstruction.timing.repeat.boundsPeriod start and
// end, and boundsDuration, but the MedicationRequest had TQ1-3's repeat
// pattern alone, so the exchange's medication list read a ten-day course
// as one without end. The corpus's RDE-O11-01 starts and ends its
// infusion (20191104103000+0215 to 20191104113000+0215); a TQ1 with a
// start and a duration has the period it makes (FHIR has one bounds[x]),
// one with a duration alone a boundsDuration in UCUM.
func TestMedicationRequestTimingBounds(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/corpus/hl7v2/RDE-O11-01.hl7")
	if err != nil {
		t.Skip("corpus not present:", err)
	}
	c := testConverter(t)
	b, _, err := c.ConvertRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	mrs := entriesOf[fhir.MedicationRequest](b)
	if len(mrs) != 1 || len(mrs[0].DosageInstruction) != 1 {
		t.Fatalf("%d requests", len(mrs))
	}
	tm := mrs[0].DosageInstruction[0].Timing
	if tm == nil || tm.Repeat == nil || tm.Repeat.BoundsPeriod == nil ||
		tm.Repeat.BoundsPeriod.Start != "2019-11-04T10:30:00+02:15" || tm.Repeat.BoundsPeriod.End != "2019-11-04T11:30:00+02:15" {
		t.Errorf("corpus timing %s, want boundsPeriod 2019-11-04T10:30:00+02:15 to 11:30", toJSON(tm))
	}
	strictR4(t, marshal(t, b))

	const msg = `MSH|^~\&|PHARM|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||RDE^O11^RDE_O11|RDE-40|P|2.5.1
PID|1||MRN100779^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
ORC|NW|RX-40^EHR|||||||20240316085500
RXE||308182^amoxicillin 250 MG Oral Capsule^RXNORM|250||mg^mg^UCUM
TQ1|1||Q8H^Every 8 hours^HL70335|||10^d&day&UCUM|20240316
ORC|NW|RX-41^EHR|||||||20240316085500
RXE||308182^amoxicillin 250 MG Oral Capsule^RXNORM|250||mg^mg^UCUM
TQ1|1||Q8H^Every 8 hours^HL70335|||2^wk&week&UCUM`
	b = mustConvert(t, testConverter(t), msg)
	mrs = entriesOf[fhir.MedicationRequest](b)
	if len(mrs) != 2 {
		t.Fatalf("%d requests", len(mrs))
	}
	if tm := mrs[0].DosageInstruction[0].Timing; tm == nil || tm.Code == nil || tm.Repeat == nil || tm.Repeat.BoundsPeriod == nil ||
		tm.Repeat.BoundsPeriod.Start != "2024-03-16" || tm.Repeat.BoundsPeriod.End != "2024-03-26" {
		t.Errorf("start with a duration: timing %s, want Q8H and a boundsPeriod from 2024-03-16 to 2024-03-26", toJSON(tm))
	}
	if tm := mrs[1].DosageInstruction[0].Timing; tm == nil || tm.Code == nil || tm.Repeat == nil || tm.Repeat.BoundsDuration == nil ||
		tm.Repeat.BoundsDuration.Value != "2" || tm.Repeat.BoundsDuration.Code != "wk" || tm.Repeat.BoundsDuration.System != "http://unitsofmeasure.org" {
		t.Errorf("duration alone: timing %s, want Q8H and boundsDuration 2 wk (UCUM)", toJSON(tm))
	}
	strictR4(t, marshal(t, b))
}
