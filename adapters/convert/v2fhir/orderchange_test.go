package v2fhir

import (
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOrderControlAlonePatchesStatus: an ORC without its OBR that cancels,
// holds or releases an order (ORC-1 CA, HD, RL, and the filler's CR, DR,
// HR, OH, OR) names no test: written
// whole, it would replace the stored order's code with "unknown". It
// writes no ServiceRequest and PATCHes the status of the one the new order
// wrote, at its id (or identifier search where the exchange chooses ids),
// in every write mode. An ORC alone with NW is still written.
func TestOrderControlAlonePatchesStatus(t *testing.T) {
	const head = "MSH|^~\\&|CPOE|HOSP|HIE|HIE|20240101130000||ORM^O01^ORM_O01|%s|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n"
	newOrder := head + "ORC|NW|P-100^CPOE\nOBR|1|P-100^CPOE||58410-2^CBC panel^LN\n"
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			orig, _ := convertMDM(t, mode, fmt.Sprintf(newOrder, "O1"))
			srs := entriesOf[fhir.ServiceRequest](orig)
			if len(srs) != 1 {
				t.Fatalf("new order: %d ServiceRequests", len(srs))
			}
			var at string
			for _, e := range orig.Entry {
				if _, ok := e.Resource.(*fhir.ServiceRequest); ok {
					at = e.Request.URL
				}
			}
			for _, tc := range []struct{ orc, want string }{
				{"ORC|CA|P-100^CPOE\n", "revoked"},
				{"ORC|HD|P-100^CPOE\n", "on-hold"},
				{"ORC|RL|P-100^CPOE\n", "active"},
				// The filler's answers: cancelled, discontinued, held,
				// released as requested (README lists them all).
				{"ORC|CR|P-100^CPOE\n", "revoked"},
				{"ORC|DR|P-100^CPOE\n", "revoked"},
				{"ORC|OH|P-100^CPOE\n", "on-hold"},
				// HR, on hold as requested: the filler's answer to HD
				// (the IG's map: on-hold), as CR is to CA.
				{"ORC|HR|P-100^CPOE\n", "on-hold"},
				{"ORC|OR|P-100^CPOE\n", "active"},
			} {
				b, res := convertMDM(t, mode, fmt.Sprintf(head, "O2")+tc.orc)
				if n := len(entriesOf[fhir.ServiceRequest](b)); n != 0 {
					t.Errorf("%q writes %d ServiceRequest(s)", tc.orc, n)
				}
				got := batchPatches(t, ChangeBatch(b, res))
				want := `[{"op":"replace","path":"/status","value":"` + tc.want + `"}]`
				if len(got) != 1 || got[at] != want {
					t.Errorf("%q: patches %v, want %s at %s", tc.orc, got, want, at)
				}
			}
			b, res := convertMDM(t, mode, fmt.Sprintf(head, "O3")+"ORC|NW|P-200^CPOE\n")
			if n := len(entriesOf[fhir.ServiceRequest](b)); n != 1 || len(res.Changes) != 0 {
				t.Errorf("ORC|NW alone: %d ServiceRequests, %d changes; want it written", n, len(res.Changes))
			}
		})
	}
}
