package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
)

// TestReusedOrderNumberConditional: two OBR of one order message under
// one placer number (the shared corpus's MDHHS OML^O21-2 orders two tests
// so) are two ServiceRequests kept apart, in every write mode. With
// writes: conditional both were written by the same conditional update
// (ServiceRequest?identifier=<placer>), which the exchange refuses as a
// duplicate resource identity in the Bundle: the whole message was
// dead-lettered.
func TestReusedOrderNumberConditional(t *testing.T) {
	const oml = "MSH|^~\\&|LIS|LAB^2.16.840.1.113883.3.72.5.20^ISO|HIE|HIE|20160308180405-0500||OML^O21^OML_O21|TC14|P|2.5.1\n" +
		"PID|1||MRNTC14^^^HOSP^MR||Old^Baby||20160223|F\n" +
		"ORC|NW|ORD723222^^2.16.840.1.113883.3.72.5.24^ISO|R783274^^2.16.840.1.113883.3.72.5.25^ISO\n" +
		"OBR|1|ORD723222^^2.16.840.1.113883.3.72.5.24^ISO|R-783274^^2.16.840.1.113883.3.72.5.25^ISO|1320^HIV Ag/Ab^L|||20160308103205-0500\n" +
		"OBR|2|ORD723222^^2.16.840.1.113883.3.72.5.24^ISO|R-783274^^2.16.840.1.113883.3.72.5.25^ISO|1680^Syphilis^L|||20160308103205-0500\n"
	ex := standin.Start(t)
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		c := testConverter(t)
		c.Mode = mode
		got := atExchange(t, ex, c, []string{oml, oml}, "ServiceRequest")
		if n := len(got["ServiceRequest"]); n != 2 {
			t.Errorf("%s: the exchange holds %d ServiceRequests, want the 2 tests ordered", mode, n)
		}
	}
}
