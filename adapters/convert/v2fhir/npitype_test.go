package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestNPIByIdentifierType: an XCN's identifier type (XCN.13) NPI makes
// its id an NPI (http://hl7.org/fhir/sid/us-npi), the key every feed
// naming the doctor by that NPI shares, whatever authority XCN.9 names.
// Written "npi" (table 0203's codes are upper case, and CX.5 and PLN.2
// are read in any case) it was not, and an XON's identifier type (XON.7)
// NPI never was: the doctor or the lab was a second resource under the
// local authority's system, and its type the code "npi", which v2-0203
// does not have.
func TestNPIByIdentifierType(t *testing.T) {
	for _, typ := range []string{"NPI", "npi"} {
		msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|L1|P|2.5.1\n" +
			"PID|1||A100^^^CLINIC^MR||Doe^Pat||19800101|F\n" +
			"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n" +
			"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^^UCUM|70-99||||F|||||1234567893^Doe^Jane^^^^^^LAB^^^^" + typ + "|||||||North Lab^^^^^LAB^" + typ + "^^^1245319599\n"
		for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
			c := testConverter(t)
			c.Mode = mode
			b := mustConvert(t, c, msg)
			strictR4(t, marshal(t, b))
			ps, os := entriesOf[fhir.Practitioner](b), entriesOf[fhir.Organization](b)
			if len(ps) != 1 || len(os) != 1 {
				t.Fatalf("%s: Practitioners %s, Organizations %s", mode, toJSON(ps), toJSON(os))
			}
			for _, id := range []fhir.Identifier{ps[0].Identifier[0], os[0].Identifier[0]} {
				if id.System != sysNPI || id.Type == nil || id.Type.Coding[0].Code != "NPI" {
					t.Errorf("%s %s: identifier %s, want an NPI of type NPI", typ, mode, toJSON(id))
				}
			}
		}
	}
}
