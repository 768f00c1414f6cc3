package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPolicyHoldsHigherLevelAnySystem: a policy of R held a label R
// written under a system other than v3-Confidentiality's names (an
// interface engine's v2 table 0177 or 0272, whose R and V are restricted
// and very restricted too; the ValueSet's URL given as the system; the
// OID without urn:oid:), since a held code counts whatever its system,
// but sent a V so written, the very restricted record going where the
// restricted one was kept back, though README has R hold V. A higher
// level counts as its code does, under any system, in a Bundle, a
// spilled file and a converter's list alike.
func TestPolicyHoldsHigherLevelAnySystem(t *testing.T) {
	pol := Policy{Hold: []string{"R"}}
	for _, system := range []string{
		"http://terminology.hl7.org/CodeSystem/v2-0177",
		"http://terminology.hl7.org/CodeSystem/v2-0272",
		"http://terminology.hl7.org/ValueSet/v3-ConfidentialityClassification",
		"2.16.840.1.113883.5.25",
	} {
		for _, code := range []string{"R", "V"} {
			b := `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition","meta":{"security":[{"system":"` + system + `","code":"` + code + `"}]}}}]}`
			if _, h := pol.Held([]byte(b)); !h {
				t.Errorf("Held(%s) not held", b)
			}
			f := filepath.Join(t.TempDir(), "b.json")
			if err := os.WriteFile(f, []byte(b), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, h := pol.HeldFile(f); !h {
				t.Errorf("HeldFile(%s) not held", b)
			}
			if _, h := pol.HeldLabels([]fhir.Coding{{System: system, Code: code}}); !h {
				t.Errorf("HeldLabels(%s|%s) not held", system, code)
			}
		}
		if _, h := pol.HeldLabels([]fhir.Coding{{System: system, Code: "N"}}); h {
			t.Errorf("%s|N held by a policy of R", system)
		}
	}
}
