package config

import "testing"

// TestIdentifierBaseIsAURI: identifiers.base prefixes every system ferry
// mints for an assigning authority it has no URI for (<base>:id:MRN) and
// is the value of the gateway's own identifier (system urn:ietf:rfc:3986).
// A base with a space in it ("urn:ferry:clinic7 " pasted with its
// trailing blank, quoted), a '|' (which ends the system in the exchange's
// PUT Patient?identifier=<system>|<value>) or no scheme ("clinic7", no
// absolute URI) was taken without a word, so every minted system was no
// FHIR uri (\S*) and the exchange matched none of them; it is refused as
// an identifiers.systems entry is.
func TestIdentifierBaseIsAURI(t *testing.T) {
	for _, tc := range []struct{ v, want string }{
		{`"urn:ferry:clinic7"`, ""},
		{`"https://riverside.example.org/ids"`, ""},
		{`"urn:ferry:clinic7 "`, "identifiers.base"},
		{`"urn:ferry:clinic 7"`, "identifiers.base"},
		{`"urn:ferry:clinic7\t"`, "identifiers.base"},
		{`"urn:ferry:clinic7|x"`, "identifiers.base"},
		{`"clinic7"`, "identifiers.base"},
	} {
		expectProblem(t, "identifiers:\n  base: "+tc.v+"\n", tc.want)
	}
}
