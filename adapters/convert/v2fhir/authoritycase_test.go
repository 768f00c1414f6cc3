package v2fhir

import (
	"strings"
	"testing"
)

// TestMappedAuthorityInAnyCase: identifiers.systems maps an assigning
// authority whatever case a feed writes its namespace id in, as ferry
// already treats the name everywhere else (the system it mints for an
// unmapped one is the same for RIVERSIDE and Riverside, and NPI or SSA
// are known in any case): with RIVERSIDE mapped, the lab feed's
// "Riverside" went to a minted system, so mapping the ADT feed's
// authority split each patient the two feeds shared until then in two.
func TestMappedAuthorityInAnyCase(t *testing.T) {
	const msg = "MSH|^~\\&|EHR|FAC|FERRY|HIE|20240502101500||ADT^A08^ADT_A01|M1|P|2.5.1\n" +
		"EVN|A08|20240502101500\n" +
		"PID|1||1001^^^%s^MR||Doe^Ann||19780214|F\n" +
		"PV1|1|O\n"
	for _, ns := range []string{"RIVERSIDE", "Riverside", "riverside"} {
		c := testConverter(t)
		c.Mode = ModePatientConditional
		c.Systems = map[string]string{"RIVERSIDE": "urn:oid:2.16.840.1.113883.3.999.1"}
		p, _ := patientOf(t, mustConvert(t, c, strings.Replace(msg, "%s", ns, 1)))
		if got := p.Identifier[0].System; got != "urn:oid:2.16.840.1.113883.3.999.1" {
			t.Errorf("CX.4 %s: system %s, want the one identifiers.systems maps RIVERSIDE to", ns, got)
		}
	}
	// Two entries one name apart in case only, mapped differently, are
	// each their own: the exact one wins, and no other is guessed.
	c := testConverter(t)
	c.Mode = ModePatientConditional
	c.Systems = map[string]string{"Lab": "urn:oid:1.2.3", "LAB": "urn:oid:1.2.4"}
	for ns, want := range map[string]string{"Lab": "urn:oid:1.2.3", "LAB": "urn:oid:1.2.4"} {
		if p, _ := patientOf(t, mustConvert(t, c, strings.Replace(msg, "%s", ns, 1))); p.Identifier[0].System != want {
			t.Errorf("CX.4 %s: system %s, want %s", ns, p.Identifier[0].System, want)
		}
	}
	if p, _ := patientOf(t, mustConvert(t, c, strings.Replace(msg, "%s", "lab", 1))); strings.HasPrefix(p.Identifier[0].System, "urn:oid:") {
		t.Errorf("CX.4 lab, mapped as Lab and LAB to two systems: %s, want a minted one", p.Identifier[0].System)
	}
}
