package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestDischargeBedEnds: a finished visit's bed (PV1-3) is "completed",
// which FHIR R4 defines as "The patient was at this location during the
// period specified", location.period being the "Time period during which
// the patient was present at the location"; but the bed an A03 (discharge)
// left had no period, so the exchange could not tell when the patient left
// it (an A02's ward left ends at the transfer). The bed now ends when the
// visit does: PV1-45, else the A03's EVN-6 or EVN-2; the prior location
// (PV1-6), left at the last transfer, whose time the A03 does not say,
// still has none.
func TestDischargeBedEnds(t *testing.T) {
	for _, tc := range []struct {
		name, evn6, pv145, want string
	}{
		{"PV1-45", "20240105113000", "20240105110000", "2024-01-05T11:00:00"},
		{"EVN-6", "20240105113000", "", "2024-01-05T11:30:00"},
		{"EVN-2", "", "", "2024-01-05T12:00:00"},
	} {
		c := testConverter(t)
		var first []byte
		for _, control := range []string{"D1", "D1-RESENT"} {
			msg := adtWith("A03", control, map[int]string{6: "ER^1^A", 45: tc.pv145})
			msg = strings.Replace(msg, "EVN|A03|20240105120000", "EVN|A03|20240105120000||||"+tc.evn6, 1)
			encs := entriesOf[fhir.Encounter](mustConvert(t, c, msg))
			if len(encs) != 1 || len(encs[0].Location) != 2 {
				t.Fatalf("%s: %+v", tc.name, encs)
			}
			bed, prior := encs[0].Location[0], encs[0].Location[1]
			if bed.Location.Display != "W1 101 A" || bed.Status != "completed" || bed.Period == nil ||
				!strings.HasPrefix(bed.Period.End, tc.want) || bed.Period.End != encs[0].Period.End {
				t.Errorf("%s: the bed %+v %+v, want completed at %s, the visit's end", tc.name, bed, bed.Period, tc.want)
			}
			if prior.Period != nil {
				t.Errorf("%s: the prior location has period %+v", tc.name, prior.Period)
			}
			enc := marshal(t, &fhir.Bundle{Entry: []fhir.BundleEntry{{Resource: encs[0]}}})
			if first == nil {
				first = enc
			} else if string(first) != string(enc) {
				t.Errorf("%s: re-sent under a new MSH-10, the Encounter differs", tc.name)
			}
		}
	}
	// A visit still going on (an A08) leaves its bed open.
	for _, e := range entriesOf[fhir.Encounter](mustConvert(t, testConverter(t), adtWith("A08", "U1", nil))) {
		for _, l := range e.Location {
			if l.Period != nil {
				t.Errorf("A08: location %s has period %+v", l.Location.Display, l.Period)
			}
		}
	}
	// The corpus's A03 (PV1-45 20150209113419+0110).
	for _, e := range corpusEncounters(t, "ADT-A03-01.hl7") {
		if len(e.Location) == 0 || e.Location[0].Period == nil || e.Location[0].Period.End != "2015-02-09T11:34:19+01:10" {
			t.Errorf("corpus A03: locations %+v, want the bed ended at PV1-45", e.Location)
		}
	}
}
