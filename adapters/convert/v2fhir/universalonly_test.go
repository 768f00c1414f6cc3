package v2fhir

import (
	"strings"
	"testing"
)

// TestAuthorityByUniversalIDAlone: an assigning authority named by its
// universal id alone, of a type that is no OID, UUID or URI
// ("^^^&hosp-a.example.org&DNS", HL7's own HD example of a DNS name, or
// a local type L, M, N), is an authority as a namespace id is: MRN 1001
// of hosp-a and MRN 1001 of hosp-b are two patients, and hosp-a's 1001
// is one patient whichever facility sends it. The universal id was
// dropped and both took the system of identifiers with no authority at
// all (scoped by MSH-4), so the two people were one Patient at the
// exchange, one conditional identifier, one id, one queue key.
func TestAuthorityByUniversalIDAlone(t *testing.T) {
	const msg = "MSH|^~\\&|ENGINE|%FAC%|FERRY|HIE|20240502101500||ADT^A08^ADT_A01|M1|P|2.5.1\n" +
		"EVN|A08|20240502101500\n" +
		"PID|1||%CX%||Doe^Ann||19780214|F\n" +
		"PV1|1|O\n"
	write := func(mode Mode, fac, cx string) (string, string) {
		t.Helper()
		c := testConverter(t)
		c.Mode = mode
		m := strings.NewReplacer("%FAC%", fac, "%CX%", cx).Replace(msg)
		p, url := patientOf(t, mustConvert(t, c, m))
		assigner := ""
		if a := p.Identifier[0].Assigner; a != nil {
			assigner = a.Display
		}
		return url, assigner
	}
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		for _, typ := range []string{"DNS", "L"} {
			a, aName := write(mode, "GATEWAY", "1001^^^&hosp-a.example.org&"+typ+"^MR")
			b, _ := write(mode, "GATEWAY", "1001^^^&hosp-b.example.org&"+typ+"^MR")
			none, _ := write(mode, "GATEWAY", "1001^^^^MR")
			if a == b || a == none {
				t.Errorf("%s, %s: MRN 1001 of hosp-a %s, of hosp-b %s, without an authority %s: two authorities' patients are one", mode, typ, a, b, none)
			}
			if aName != "hosp-a.example.org" {
				t.Errorf("%s, %s: Identifier.assigner %q, want the authority's universal id", mode, typ, aName)
			}
			if other, _ := write(mode, "CLINIC2", "1001^^^&hosp-a.example.org&"+typ+"^MR"); other != a {
				t.Errorf("%s, %s: hosp-a's MRN 1001 from two facilities: %s and %s", mode, typ, a, other)
			}
		}
	}
}
