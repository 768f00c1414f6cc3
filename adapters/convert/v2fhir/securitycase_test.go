package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestSecurityCodeInCapitals: a message labelled 42 CFR Part 2 in MSH-8
// written in capitals, as HL7 v2 feeds write codes ("R,42CFRPART2"), is
// labelled with v3-ActCode's 42CFRPart2 (v3 codes are case-sensitive), so
// exchange.hold: [42CFRPart2] and the exchange's DS4P rules find it; it
// was kept as a sender's own code "42CFRPART2" under MSH-8's system, and
// substance use disorder records went out as if they carried no Part 2
// label.
func TestSecurityCodeInCapitals(t *testing.T) {
	base := mdm("T02", "D-C", "DOC-C^EHR", "", "AU", "AV", true)
	msg := strings.Replace(base, "20240401103000||MDM", "20240401103000|R,42CFRPART2|MDM", 1)
	b, _ := convertMDM(t, ModePatientConditional, msg)
	if b.Meta == nil {
		t.Fatal("bundle without labels")
	}
	var found bool
	for _, c := range b.Meta.Security {
		if c.System == fhir.SystemActCode && c.Code == "42CFRPart2" {
			found = true
		}
		if strings.EqualFold(c.Code, "42CFRPart2") && c.Code != "42CFRPart2" {
			t.Errorf("bundle label %+v: not v3-ActCode's code", c)
		}
	}
	if !found {
		t.Errorf("bundle meta.security %s lacks v3-ActCode 42CFRPart2", toJSON(b.Meta.Security))
	}
}
