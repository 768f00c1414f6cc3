package config

import "testing"

// TestIdentifierSystemIsAURI: an identifiers.systems entry is the system
// the HL7 v2 converter gives every identifier of that authority, matched
// exactly against the system a C-CDA's root, fax.patient_system or a CSV
// mapping's system gives the same chart number (README, "Merges"). A
// value with a space in it ("urn:oid:2.16.840.1.113883.3.999.1 " pasted
// with its trailing blank, quoted) or a '|' was taken, so the ADT feed
// wrote its patients under a system no other input carries (FHIR's uri
// has no white space: \S*), the fax and the C-CDA making a second
// Patient for the same MRN; fax.patient_system and a CSV system refuse
// such a value, and so does identifiers.systems now, naming the entry.
func TestIdentifierSystemIsAURI(t *testing.T) {
	for _, tc := range []struct{ v, want string }{
		{`"urn:oid:2.16.840.1.113883.3.999.1"`, ""},
		{`"https://riverside.example.org/mrn"`, ""},
		{`"urn:oid:2.16.840.1.113883.3.999.1 "`, "identifiers.systems.RIVERSIDE"},
		{`"urn:oid:2.16.840.1.113883.3.999.1\t"`, "identifiers.systems.RIVERSIDE"},
		{`"https://riverside.example.org/m rn"`, "identifiers.systems.RIVERSIDE"},
		{`"urn:oid:2.16.840.1.113883.3.999.1|mrn"`, "identifiers.systems.RIVERSIDE"},
		{`"2.16.840.1.113883.3.999.1"`, "identifiers.systems.RIVERSIDE"},
	} {
		expectProblem(t, "identifiers:\n  systems: {RIVERSIDE: "+tc.v+"}\n", tc.want)
	}
}
