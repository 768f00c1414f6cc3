package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// locationAs returns the Encounter's location shown as display
// and whether it is classified temporary as the IG's PV1-11 map has it.
func locationAs(e *fhir.Encounter, display string) (fhir.EncounterLocation, bool, bool) {
	for _, l := range e.Location {
		if l.Location.Display != display {
			continue
		}
		temp := false
		for _, x := range l.Extension {
			if x.URL == "http://hl7.org/fhir/StructureDefinition/subject-locationClassification" && x.ValueCodeableConcept != nil &&
				len(x.ValueCodeableConcept.Coding) == 1 && x.ValueCodeableConcept.Coding[0].Code == "temporary" &&
				x.ValueCodeableConcept.Coding[0].System == "http://hl7.org/fhir/subject-locationClassification" {
				temp = true
			}
		}
		return l, temp, true
	}
	return fhir.EncounterLocation{}, false, false
}

// TestTemporaryLocation: PV1-11 (Temporary Location) is "a location other
// than the assigned location required for a temporary period of time
// (e.g., OR, operating theatre, etc.)", where an A09 or A10 tells the
// patient went ("If the patient is arriving at a temporary location (such
// as the O/R, XRAY, LIMBO, the HALLWAY), then PV1-11 ... would be used",
// HL7 v2.5.1 3.3.10). It was not read: the exchange kept the patient in
// the bed, not in the operating theatre. The IG's PV1[Encounter] map makes
// it location[3] "active" with the extension subject-locationClassification
// "temporary" (the Extensions Pack's code system; the IG's sheet names the
// value set's URL), and it now is; a finished visit's is completed and a
// cancelled visit's has no status, as its bed's.
func TestTemporaryLocation(t *testing.T) {
	for _, tc := range []struct {
		trigger, want string
	}{
		{"A09", "active"},
		{"A10", "active"},
		{"A08", "active"},
		{"A03", "completed"},
		{"A11", ""},
	} {
		c := testConverter(t)
		var first []byte
		for _, control := range []string{"M1", "M1-RESENT"} {
			encs := entriesOf[fhir.Encounter](mustConvert(t, c, adtWith(tc.trigger, control, map[int]string{11: "OR^2^^HOSP"})))
			if len(encs) != 1 {
				t.Fatalf("%s: %d Encounters", tc.trigger, len(encs))
			}
			l, temp, ok := locationAs(encs[0], "HOSP OR 2")
			if !ok || !temp || l.Status != tc.want || l.Period != nil {
				t.Errorf("%s: the temporary location %+v (listed %v, temporary %v), want %q", tc.trigger, l, ok, temp, tc.want)
			}
			if bed, temp, _ := locationAs(encs[0], "W1 101 A"); temp || bed.Extension != nil {
				t.Errorf("%s: the assigned bed is classified %+v", tc.trigger, bed.Extension)
			}
			enc := marshal(t, &fhir.Bundle{Entry: []fhir.BundleEntry{{Resource: encs[0]}}})
			if first == nil {
				first = enc
			} else if string(first) != string(enc) {
				t.Errorf("%s: re-sent under a new MSH-10, the Encounter differs", tc.trigger)
			}
		}
	}
	// The corpus's A09, to OTWAITROOM^ROOM11^^FACI-1^^^BUILD-1^FL-10.
	encs := corpusEncounters(t, "ADT-A09-01.hl7")
	if len(encs) != 1 {
		t.Fatalf("corpus A09: %d Encounters", len(encs))
	}
	if l, temp, ok := locationAs(encs[0], "FACI-1 BUILD-1 FL-10 OTWAITROOM ROOM11"); !ok || !temp || l.Status != "active" {
		t.Errorf("corpus A09: locations %+v, want the temporary one active", encs[0].Location)
	}
}
