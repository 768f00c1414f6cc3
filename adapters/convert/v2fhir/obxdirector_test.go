package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOBXMedicalDirector: OBX-25 (Performing Organization Medical
// Director, an XCN; ELR and CLIA reports name the lab's director) was
// dropped. The IG's OBX[Observation] map makes it performer
// (PractitionerRole): its practitioner the director, its code MDIR
// (v2-0912), its organization OBX-23's ("IF OBX-25 VALUED":
// PractitionerRole.organization rather than a performer of its own). A
// director named by every OBX of a report is one PractitionerRole, the
// same when the message is sent again; a director without an id is a
// performer by name.
func TestOBXMedicalDirector(t *testing.T) {
	lab := "||||||||||||Century Hospital^^^^^NIST-AA-1&2.16.840.1.113883.3.72.5.30.1&ISO^XX^^^987|2070 Test Park^^Los Angeles^CA^90067^^B|2343242^Knowsalot^Phil^^^Dr.^^^NIST-AA-1&2.16.840.1.113883.3.72.5.30.1&ISO^L^^^DN\n"
	msg := "MSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240401101500||ORU^R01^ORU_R01|R-1|P|2.5.1\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||19800101|F\n" +
		"OBR|1|ORD-1^EHR|FIL-1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240401090000\n" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^^UCUM|70-99||||F" + lab +
		"OBX|2|NM|2951-2^Sodium^LN||140|mmol/L^^UCUM|||||F" + lab +
		"OBX|3|NM|2823-3^Potassium^LN||4.1|mmol/L^^UCUM|||||F||||||||||||Corner Lab||^Doe^Jim\n"
	ex := standin.Start(t)
	for _, mode := range []Mode{ModeID, ModePatientConditional, ModeConditional} {
		c := testConverter(t)
		c.Mode = mode
		b := mustConvert(t, c, msg)
		strictR4(t, marshal(t, b))
		roles := entriesOf[fhir.PractitionerRole](b)
		if len(roles) != 1 {
			t.Fatalf("%s: %d PractitionerRoles, want 1: %s", mode, len(roles), toJSON(roles))
		}
		role := roles[0]
		pracs, orgs := entriesOf[fhir.Practitioner](b), entriesOf[fhir.Organization](b)
		if len(pracs) != 1 || len(orgs) != 1 {
			t.Fatalf("%s: Practitioners %s, Organizations %s", mode, toJSON(pracs), toJSON(orgs))
		}
		if len(pracs[0].Identifier) != 1 || pracs[0].Identifier[0].Value != "2343242" || len(pracs[0].Name) != 1 || pracs[0].Name[0].Family != "Knowsalot" {
			t.Errorf("%s: director %s", mode, toJSON(pracs[0]))
		}
		if role.Practitioner == nil || role.Organization == nil || role.Practitioner.Reference != refOf(b, pracs[0]) ||
			role.Organization.Reference != refOf(b, orgs[0]) ||
			role.Organization.Display != "Century Hospital" || len(role.Identifier) != 1 ||
			len(role.Code) != 1 || len(role.Code[0].Coding) != 1 || role.Code[0].Coding[0].Code != "MDIR" || role.Code[0].Coding[0].System != v2Table+"0912" {
			t.Errorf("%s: PractitionerRole %s, want the director at Century Hospital, code MDIR of v2-0912", mode, toJSON(role))
		}
		obs := entriesOf[fhir.Observation](b)
		for i, o := range obs[:2] {
			if len(o.Performer) != 1 || o.Performer[0].Reference != refOf(b, role) {
				t.Errorf("%s: OBX %d performer %s, want the director's PractitionerRole alone", mode, i+1, toJSON(o.Performer))
			}
		}
		if p := obs[2].Performer; len(p) != 2 || p[0].Display != "Corner Lab" || p[1].Display != "Jim Doe" || p[1].Reference != "" {
			t.Errorf("%s: OBX 3 performer %s, want the lab and the director by name", mode, toJSON(p))
		}
		// A FHIR server takes the role and the results that name it
		// (a ModeConditional bundle of this size is more than Medplum
		// takes in one transaction, with or without the role).
		if mode != ModeConditional {
			got := atExchange(t, ex, c, []string{msg}, "PractitionerRole", "Observation")
			if len(got["PractitionerRole"]) != 1 || len(got["Observation"]) != 3 {
				t.Errorf("%s: the exchange holds %d PractitionerRoles, %d Observations", mode, len(got["PractitionerRole"]), len(got["Observation"]))
			}
		}
		again := entriesOf[fhir.PractitionerRole](mustConvert(t, c, strings.Replace(msg, "|R-1|", "|R-2|", 1)))
		if len(again) != 1 || toJSON(again[0]) != toJSON(role) {
			t.Errorf("%s: sent again, %s, was %s", mode, toJSON(again), toJSON(role))
		}
	}
}

// refOf is how the bundle's other entries refer to resource r: its fullUrl
// where the exchange chooses ids, else Type/id.
func refOf(b *fhir.Bundle, r any) string {
	for _, e := range b.Entry {
		if e.Resource == r {
			if e.Request != nil && e.Request.Method == "PUT" && !strings.Contains(e.Request.URL, "?") {
				return e.Request.URL
			}
			return e.FullURL
		}
	}
	return "(not in the bundle)"
}
