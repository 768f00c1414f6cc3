package xdmfhir

import "testing"

// TestPatientIDAuthorityGivenAsURN: a patientId whose assigning authority's
// universal id is written as a URN ("urn:oid:<OID>", in any case) names
// the authority the bare OID names, as the HL7 v2 converter reads it: the
// document is filed to urn:oid:<OID>|<id>. It had no subject (the OID
// check failed on the prefix) or one under "URN:OID:...".
func TestPatientIDAuthorityGivenAsURN(t *testing.T) {
	c := &Converter{}
	for _, cx := range []string{
		"MRN-7^^^&urn:oid:2.16.840.1.113883.3.999.1&ISO",
		"MRN-7^^^&URN:OID:2.16.840.1.113883.3.999.1&ISO",
		"MRN-7^^^&urn:oid:2.16.840.1.113883.3.999.1",
		"MRN-7^^^&URN:OID:2.16.840.1.113883.3.999.1&URI",
	} {
		sys, val, ok := c.patientID(cx)
		if !ok || sys != "urn:oid:2.16.840.1.113883.3.999.1" || val != "MRN-7" {
			t.Errorf("%q: %q %q %v, want urn:oid:2.16.840.1.113883.3.999.1|MRN-7", cx, sys, val, ok)
		}
	}
}
