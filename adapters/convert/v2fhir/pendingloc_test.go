package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPendingLocationReserved: an A15 "notifies other systems of a plan
// to transfer a patient to a new location when the patient has not yet
// left the old location" (HL7 v2.5.1 3.3.15), and the location it plans is
// PV1-42 (Pending Location, "to which the patient may be moved"), which
// the IG's PV1[Encounter] map makes location[4] with status "reserved"
// (FHIR R4: "This location is held empty for this patient"). PV1-42 was
// not read: the pending transfer reached the exchange as the visit
// unchanged, the bed it holds nowhere. It is now a reserved location, on
// a re-send the same; not where the pending transfer is cancelled (A26),
// the visit is cancelled or finished (nothing is held for it), or PV1-42
// is the bed PV1-3 already names (the transfer done).
func TestPendingLocationReserved(t *testing.T) {
	pending := map[int]string{3: "W1^101^A", 42: "W3^301^B"}
	for _, tc := range []struct {
		trigger string
		fields  map[int]string
		want    string // PV1-42's status, "-" for not listed
	}{
		{"A15", pending, "reserved"},
		{"A08", pending, "reserved"},
		{"A05", map[int]string{2: "P", 3: "W1^101^A", 42: "W3^301^B"}, "reserved"},
		{"A26", pending, "-"},
		{"A25", pending, "reserved"}, // cancel pending discharge
		{"A11", pending, "-"},
		{"A03", pending, "-"},
		{"A02", map[int]string{3: "W3^301^B", 6: "W1^101^A", 42: "W3^301^B"}, "-"},
	} {
		c := testConverter(t)
		var first []byte
		for _, control := range []string{"R1", "R1-RESENT"} {
			encs := entriesOf[fhir.Encounter](mustConvert(t, c, adtWith(tc.trigger, control, tc.fields)))
			if len(encs) != 1 {
				t.Fatalf("%s: %d Encounters", tc.trigger, len(encs))
			}
			got, n := "-", 0
			for _, l := range encs[0].Location {
				if l.Location.Display == "W3 301 B" {
					got = l.Status
					n++
				}
			}
			if tc.trigger == "A02" {
				// The bed the transfer took the patient to is PV1-3's.
				if n != 1 || got != "active" {
					t.Errorf("A02: the bed of PV1-3 and PV1-42 listed %d times, last %q", n, got)
				}
				got = "-"
			}
			if got != tc.want {
				t.Errorf("%s: the pending location is %q, want %q", tc.trigger, got, tc.want)
			}
			enc := marshal(t, &fhir.Bundle{Entry: []fhir.BundleEntry{{Resource: encs[0]}}})
			if first == nil {
				first = enc
			} else if string(first) != string(enc) {
				t.Errorf("%s: re-sent under a new MSH-10, the Encounter differs", tc.trigger)
			}
		}
	}
	// The corpus's A15, whose PV1-42 is POC^Room-2^Bed-103^^^C^Greenland.
	encs := corpusEncounters(t, "ADT-A15-01.hl7")
	if len(encs) != 1 {
		t.Fatalf("corpus A15: %d Encounters", len(encs))
	}
	found := false
	for _, l := range encs[0].Location {
		if l.Location.Display == "Greenland POC Room-2 Bed-103" {
			found = l.Status == "reserved"
		}
	}
	if !found {
		t.Errorf("corpus A15: locations %+v, want Greenland POC Room-2 Bed-103 reserved", encs[0].Location)
	}
}
