package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestAuthorityGivenAsURN: an assigning authority's universal id (CX.4.2)
// written as a URN, "urn:oid:<OID>" (with type ISO, URI or none, in any
// case), is the OID itself, as the feed that writes it bare says: one
// authority, one identifier system, so the patient is one patient at the
// exchange whichever feed (or C-CDA root) names them. It was
// "urn:oid:urn:oid:..." (type ISO), "URN:OID:..." (type URI) or a system
// minted for the facility (no type), and an SSN whose authority was so
// written went to the exchange as the patient's key.
func TestAuthorityGivenAsURN(t *testing.T) {
	const msg = "MSH|^~\\&|EHR|FAC|FERRY|HIE|20240502101500||ADT^A08^ADT_A01|M1|P|2.5.1\n" +
		"EVN|A08|20240502101500\n" +
		"PID|1||%s||Doe^Ann||19780214|F\n" +
		"PV1|1|O\n"
	const want = "urn:oid:2.16.840.1.113883.3.999.1"
	for _, cx := range []string{
		"1001^^^&2.16.840.1.113883.3.999.1&ISO^MR",
		"1001^^^&urn:oid:2.16.840.1.113883.3.999.1&ISO^MR",
		"1001^^^&URN:OID:2.16.840.1.113883.3.999.1&URI^MR",
		"1001^^^&urn:oid:2.16.840.1.113883.3.999.1^MR",
		"1001^^^CLINIC&urn:oid:2.16.840.1.113883.3.999.1&ISO^MR",
		"123456789^^^&urn:oid:2.16.840.1.113883.4.1&ISO~1001^^^&2.16.840.1.113883.3.999.1&ISO^MR",
	} {
		for _, mode := range []Mode{ModeID, ModePatientConditional} {
			c := testConverter(t)
			c.Mode = mode
			p, url := patientOf(t, mustConvert(t, c, strings.Replace(msg, "%s", cx, 1)))
			var got []string
			for _, id := range p.Identifier {
				got = append(got, id.System+"|"+id.Value)
			}
			if len(p.Identifier) != 1 || p.Identifier[0].System != want || p.Identifier[0].Value != "1001" {
				t.Errorf("%s, %s: Patient.identifier %v, want [%s|1001]", cx, mode, got, want)
			}
			wantURL := "Patient/" + fhir.PatientID(want, "1001")
			if mode != ModeID {
				wantURL = "Patient?" + fhir.IdentifierQuery(want, "1001")
			}
			if url != wantURL {
				t.Errorf("%s, %s: written as %s, want %s", cx, mode, url, wantURL)
			}
		}
	}
}
