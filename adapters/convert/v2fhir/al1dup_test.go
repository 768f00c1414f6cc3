package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRepeatedAL1: an ADT that lists one allergy twice (the same AL1
// repeated, or renumbered in AL1-1) wrote two AllergyIntolerances, the
// second under an id minted from its place in the message, so the
// exchange held the patient's penicillin allergy twice. The resource is
// keyed by the patient and the allergen (so an A60 lands on it), not by
// AL1-1: every AL1 of one allergen is that one resource, and a second
// reaction to it is a second reaction of the one record.
func TestRepeatedAL1(t *testing.T) {
	const head = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401101500||ADT^A08^ADT_A01|ADT-1|P|2.5.1\n" +
		"EVN|A08|20240401101500\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n"
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		c := testConverter(t)
		c.Mode = mode
		for name, al1s := range map[string]string{
			"identical":  "AL1|1|DA|7980^Penicillin G^RXNORM|SV|Hives|20190610\nAL1|1|DA|7980^Penicillin G^RXNORM|SV|Hives|20190610\n",
			"renumbered": "AL1|1|DA|7980^Penicillin G^RXNORM|SV|Hives|20190610\nAL1|2|DA|7980^Penicillin G^RXNORM|SV|Hives|20190610\n",
		} {
			got := entriesOf[fhir.AllergyIntolerance](mustConvert(t, c, strings.ReplaceAll(head+al1s, "\n", "\r")))
			if len(got) != 1 {
				t.Errorf("%s %s: %d AllergyIntolerances, want 1", mode, name, len(got))
				continue
			}
			if r := got[0].Reaction; len(r) != 1 || len(r[0].Manifestation) != 1 || r[0].Manifestation[0].Text != "Hives" {
				t.Errorf("%s %s: reactions %s", mode, name, toJSON(r))
			}
			if len(got[0].Identifier) != 1 {
				t.Errorf("%s %s: identifiers %s", mode, name, toJSON(got[0].Identifier))
			}
		}
		two := head + "AL1|1|DA|7980^Penicillin G^RXNORM|SV|Hives\nAL1|2|DA|7980^Penicillin G^RXNORM|MO|Nausea|20190610\n"
		got := entriesOf[fhir.AllergyIntolerance](mustConvert(t, c, strings.ReplaceAll(two, "\n", "\r")))
		if len(got) != 1 {
			t.Fatalf("%s: two reactions to one allergen: %d AllergyIntolerances, want 1", mode, len(got))
		}
		if r := got[0].Reaction; len(r) != 2 || r[0].Severity != "severe" || r[1].Manifestation[0].Text != "Nausea" || r[1].Severity != "moderate" || got[0].OnsetDateTime != "2019-06-10" {
			t.Errorf("%s: reactions %s onset %q", mode, toJSON(r), got[0].OnsetDateTime)
		}
	}
}
