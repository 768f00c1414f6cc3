package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBXPerformingOrganization: the IG's OBX[Observation] map makes
// OBX-23 (performing organization name, an XON) a performer
// Organization (XON[Organization]) and OBX-24 (its address) that
// Organization's address; CLIA has a laboratory report name the
// laboratory that performed the test and its address, and LRI senders
// send the lab's identifier in XON.10. The performer was a display of
// XON.1 only: the identifier and the address were dropped. A lab named
// by every OBX of a report is one Organization.
func TestOBXPerformingOrganization(t *testing.T) {
	lab := "||||||||||||Century Hospital^^^^^NIST-AA-1&2.16.840.1.113883.3.72.5.30.1&ISO^XX^^^987|2070 Test Park^^Los Angeles^CA^90067^^B\n"
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-1|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^^UCUM|70-99||||F" + lab +
		"OBX|2|NM|2951-2^Sodium^LN||140|mmol/L^^UCUM|||||F" + lab +
		"OBX|3|NM|2823-3^Potassium^LN||4.1|mmol/L^^UCUM|||||F||||||||||||Corner Lab\n"
	b := mustConvert(t, testConverter(t), msg)
	orgs := entriesOf[fhir.Organization](b)
	if len(orgs) != 1 {
		t.Fatalf("%d Organizations, want 1: %s", len(orgs), toJSON(orgs))
	}
	org := orgs[0]
	if org.Name != "Century Hospital" || len(org.Identifier) != 1 || org.Identifier[0].Value != "987" ||
		org.Identifier[0].System != "urn:oid:2.16.840.1.113883.3.72.5.30.1" {
		t.Errorf("Organization %s", toJSON(org))
	}
	if len(org.Address) != 1 || org.Address[0].City != "Los Angeles" || len(org.Address[0].Line) != 1 || org.Address[0].Line[0] != "2070 Test Park" {
		t.Errorf("Organization address %s", toJSON(org.Address))
	}
	url := "Organization/" + org.ID
	obs := entriesOf[fhir.Observation](b)
	for i, o := range obs[:2] {
		if len(o.Performer) != 1 || o.Performer[0].Reference != url || o.Performer[0].Display != "Century Hospital" {
			t.Errorf("OBX %d performer %s, want a reference to %s", i+1, toJSON(o.Performer), url)
		}
	}
	if p := obs[2].Performer; len(p) != 1 || p[0].Reference != "" || p[0].Display != "Corner Lab" {
		t.Errorf("OBX 3 performer %s, want the name alone", toJSON(p))
	}
}
