package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPractitionerAuthorityByUniversalID: an XCN's or XON's assigning
// authority may be named by its universal id alone, of a type that is no
// OID, UUID or URI (HL7's "&falcon.iupui.edu&DNS", a local L). As for a
// CX, that id is the authority's name: the doctors with id 1001 of two
// hospitals so named are two Practitioners, and the labs with id 77 two
// Organizations. ferry dropped the name and gave both the system of ids
// without any authority, so one overwrote the other at the exchange.
func TestPractitionerAuthorityByUniversalID(t *testing.T) {
	for _, typ := range []string{"DNS", "L"} {
		msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|L1|P|2.5.1\n" +
			"PID|1||A100^^^CLINIC^MR||Doe^Pat||19800101|F\n" +
			"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n" +
			"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^^UCUM|70-99||||F|||||1001^Doe^Jane^^^^^^&hosp-b.example.org&" + typ + "|||||||North Lab^^^^^&lab-a.example.org&" + typ + "^XX^^^77\n" +
			"OBX|2|NM|2951-2^Sodium^LN||140|mmol/L^^UCUM|||||F|||||1001^Smith^John^^^^^^&hosp-a.example.org&" + typ + "|||||||South Lab^^^^^&lab-b.example.org&" + typ + "^XX^^^77\n"
		for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
			c := testConverter(t)
			c.Mode = mode
			b := mustConvert(t, c, msg)
			strictR4(t, marshal(t, b))
			if ps := entriesOf[fhir.Practitioner](b); len(ps) != 2 {
				t.Errorf("%s %s: id 1001 of two authorities is %d Practitioners, want 2: %s", typ, mode, len(ps), toJSON(ps))
			}
			if os := entriesOf[fhir.Organization](b); len(os) != 2 {
				t.Errorf("%s %s: id 77 of two authorities is %d Organizations, want 2: %s", typ, mode, len(os), toJSON(os))
			}
		}
	}
}
