package v2fhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestOULResultWritesItsOrder: an OUL^R22 or R24 report is the answer to
// an order as an ORU^R01's is, but its DiagnosticReport had no basedOn at
// all, so the exchange could not tell which order a specimen-oriented
// result answers, nor who ordered it. In OUL the order group's ORC follows
// its OBR (OUL_R22 ORDER: OBR, [ORC], ...); with it the report writes
// the order as an ORU^R01 does (the IG's ORU_R01 map: ORC[ServiceRequest],
// "DiagnosticReport[1].basedOn.reference=ServiceRequest[1].id"), keyed as
// the clinic's ORM keys it, its requester OBR-16 and its ORC-28 labels
// the group's; without one, the report refers to its order by placer
// number, as an ORU^R01 result without ORC does.
func TestOULResultWritesItsOrder(t *testing.T) {
	const doctor = "1234567893^Lee^Grace^^^Dr^^^^^^^NPI"
	orm := strings.Join([]string{
		"MSH|^~\\&|EPIC|SPRINGCLINIC|LIS|ACMELAB|20261124080000||ORM^O01^ORM_O01|ORM-1|P|2.5.1",
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F",
		"ORC|NW|ORD-5001^EPIC|||||||20261124080000|||" + doctor,
		"OBR|1|ORD-5001^EPIC||24323-8^Comprehensive metabolic panel^LN||||||||||||" + doctor,
	}, "\n") + "\n"
	oul := strings.Join([]string{
		"MSH|^~\\&|LIS|ACMELAB|EPIC|SPRINGCLINIC|20261125101500||OUL^%s^OUL_%s|%s|P|2.5.1|||NE|NE",
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F",
		"SPM|1|SP-1&EPIC^SP-1-A&ACMELAB||BLD^Whole blood^HL70487|||||||||||||20261124075500",
		"OBR|1|ORD-5001^EPIC|F-7731^ACMELAB|24323-8^Comprehensive metabolic panel^LN|||20261124075500|||||||||" + doctor + "||||||20261125101000||CH|F",
		"ORC|SC|ORD-5001^EPIC|F-7731^ACMELAB||CM|||||||||||||||||||||||R",
		"OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^mg/dL^UCUM|70-99|H|||F|||20261124075500",
		"OBR|2|ORD-5002^EPIC|F-7732^ACMELAB|2093-3^Cholesterol^LN|||20261124075500||||||||||||||||CH|F",
		"OBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL^mg/dL^UCUM|<200|N|||F|||20261124075500",
	}, "\n") + "\n"
	for _, trig := range []string{"R22", "R24"} {
		for _, mode := range mdmModes {
			t.Run(trig+"/"+mode.String(), func(t *testing.T) {
				ob, _ := convertMDM(t, mode, orm)
				_, orderAt, _ := serviceRequestURL(t, ob)
				b, _ := convertMDM(t, mode, fmt.Sprintf(oul, trig, trig, "LAB-1"))
				strictR4(t, marshal(t, b))
				sr, at, full := serviceRequestURL(t, b)
				if at != orderAt {
					t.Errorf("result's order written at %s, the order message's at %s: two orders", at, orderAt)
				}
				if sr.Status != "completed" || sr.Requester == nil || firstCode(sr.Code) != "24323-8" {
					t.Errorf("order: status %q requester %+v code %q", sr.Status, sr.Requester, firstCode(sr.Code))
				}
				if !strings.Contains(toJSON(sr.Meta), `"R"`) {
					t.Errorf("order's labels %s, want ORC-28's R", toJSON(sr.Meta))
				}
				ref := at
				if mode == ModeConditional {
					ref = full
				}
				drs := entriesOf[fhir.DiagnosticReport](b)
				if len(drs) != 2 {
					t.Fatalf("%d reports", len(drs))
				}
				if len(drs[0].BasedOn) != 1 || drs[0].BasedOn[0].Reference != ref {
					t.Errorf("report with ORC: basedOn %s, want %s", toJSON(drs[0].BasedOn), ref)
				}
				if len(drs[1].BasedOn) != 1 || drs[1].BasedOn[0].Reference != "" || drs[1].BasedOn[0].Identifier == nil || drs[1].BasedOn[0].Identifier.Value != "ORD-5002" {
					t.Errorf("report without ORC: basedOn %s, want the logical reference by placer number", toJSON(drs[1].BasedOn))
				}
				for _, o := range entriesOf[fhir.Observation](b) {
					if len(o.BasedOn) != 1 {
						t.Errorf("result %s: basedOn %s", firstCode(&o.Code), toJSON(o.BasedOn))
					}
				}
				again, _ := convertMDM(t, mode, fmt.Sprintf(oul, trig, trig, "LAB-2"))
				if _, at2, _ := serviceRequestURL(t, again); at2 != at {
					t.Errorf("re-sent result writes its order at %s, first at %s", at2, at)
				}
			})
		}
	}
}
