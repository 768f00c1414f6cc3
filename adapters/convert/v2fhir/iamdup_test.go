package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRepeatedIAM: an A60 carrying two IAMs for one allergen (the IAM
// repeated, renumbered in IAM-1, or a second reaction to it) wrote two
// AllergyIntolerances, the second under an id minted from its place in
// the message, so the exchange held the patient's penicillin allergy
// twice, and the MessageHeader named both. As with a repeated AL1
// (TestRepeatedAL1) the resource is keyed by the patient and the
// allergen: every IAM of one allergen is that one record, its NTEs and
// IARs notes and reactions of it once each. A deleted or erroneous IAM of
// the allergen next to one that keeps it does not mark the patient's
// allergy entered-in-error.
func TestRepeatedIAM(t *testing.T) {
	const head = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240405101500||ADT^A60^ADT_A60|ADT-6001|P|2.5.1\n" +
		"EVN|A60|20240405101500\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n"
	const pen = "IAM|1|DA|7980^Penicillin G^RXNORM|SV|247472004^Hives^SCT|A|ALG-301^CLINIC||AL||20190610||||||C\n" +
		"NTE|1||Reaction within an hour of the first dose.\n" +
		"IAR|39579001^Anaphylaxis^SCT|SV\n"
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		c := testConverter(t)
		c.Mode = mode
		one := func(name, msg string) *fhir.AllergyIntolerance {
			t.Helper()
			b := mustConvert(t, c, head+msg)
			got := entriesOf[fhir.AllergyIntolerance](b)
			if len(got) != 1 {
				t.Errorf("%s %s: %d AllergyIntolerances, want 1", mode, name, len(got))
				return nil
			}
			if h := entriesOf[fhir.MessageHeader](b); len(h) != 1 || strings.Count(toJSON(h[0].Focus), "AllergyIntolerance") > 1 {
				t.Errorf("%s %s: MessageHeader focus %s", mode, name, toJSON(h))
			}
			return got[0]
		}
		for name, iams := range map[string]string{
			"identical":  pen + pen,
			"renumbered": pen + strings.Replace(pen, "IAM|1|", "IAM|2|", 1),
		} {
			a := one(name, iams)
			if a == nil {
				continue
			}
			if len(a.Reaction) != 2 || len(a.Note) != 1 || len(a.Identifier) != 2 {
				t.Errorf("%s %s: reactions %s notes %s identifiers %s", mode, name, toJSON(a.Reaction), toJSON(a.Note), toJSON(a.Identifier))
			}
		}

		// A second reaction to the allergen, coded (no text to tell the
		// two apart), is a second reaction of the one record.
		two := pen + "IAM|2|DA|7980^Penicillin G^RXNORM|MO|422587007^Nausea^SCT|A|ALG-301^CLINIC||AL||20190610||||||C\n"
		if a := one("two reactions", two); a != nil {
			var codes []string
			for _, r := range a.Reaction {
				codes = append(codes, r.Manifestation[0].Coding[0].Code+"/"+r.Severity)
			}
			if strings.Join(codes, " ") != "247472004/severe 39579001/severe 422587007/moderate" {
				t.Errorf("%s two reactions: %q", mode, codes)
			}
		}

		// The sender deletes an erroneous record of the allergen and keeps
		// (or adds) another: the patient is still allergic.
		del := "IAM|2|DA|7980^Penicillin G^RXNORM|||D|ALG-300^CLINIC||||||20240405||||E\n"
		for name, iams := range map[string]string{"delete, then keep": del + pen, "keep, then delete": pen + del} {
			a := one(name, iams)
			if a == nil {
				continue
			}
			if a.ClinicalStatus == nil || a.ClinicalStatus.Coding[0].Code != "active" || a.VerificationStatus == nil || a.VerificationStatus.Coding[0].Code != "confirmed" {
				t.Errorf("%s %s: clinical %s verification %s, want active and confirmed", mode, name, toJSON(a.ClinicalStatus), toJSON(a.VerificationStatus))
			}
			if len(a.Reaction) != 2 || len(a.Note) != 1 || len(a.Identifier) != 2 || a.Identifier[1].Value != "ALG-301" {
				t.Errorf("%s %s: reactions %s notes %s identifiers %s", mode, name, toJSON(a.Reaction), toJSON(a.Note), toJSON(a.Identifier))
			}
		}
		// Every IAM of it deleted: the record is entered-in-error.
		if a := one("all deleted", del+strings.Replace(del, "ALG-300", "ALG-299", 1)); a != nil {
			if a.ClinicalStatus != nil || a.VerificationStatus == nil || a.VerificationStatus.Coding[0].Code != "entered-in-error" {
				t.Errorf("%s all deleted: clinical %s verification %s", mode, toJSON(a.ClinicalStatus), toJSON(a.VerificationStatus))
			}
		}
	}
}
