package v2fhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestReportNumbersFromORC: HL7 v2.5.1 (4.5.1.2, 4.5.1.3) lets an order's
// numbers sit in the ORC alone ("If the placer order number is not present
// in the ORC, it must be present in the associated OBR and vice versa"),
// and the IG's ORC[DiagnosticReport] map makes ORC-2 and ORC-3 the
// report's PLAC and FILL identifiers. A result whose OBR-2 and OBR-3 were
// empty got neither, and was keyed by its message control id: the same
// report sent again (a correction, a re-send under a new MSH-10) became a
// second DiagnosticReport at the exchange. It is now keyed by ORC-3 (else
// ORC-2), in every write mode.
func TestReportNumbersFromORC(t *testing.T) {
	oru := strings.Join([]string{
		"MSH|^~\\&|LIS|ACMELAB|EPIC|SPRINGCLINIC|20261125101500||ORU^R01^ORU_R01|%s|P|2.5.1",
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F",
		"ORC|RE|ORD-7001^EPIC|L-8001^ACMELAB||CM",
		"OBR|1|||24331-1^Lipid panel^LN|||||||||||||||||||||%s",
		"OBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL^^UCUM|<200|N|||%[2]s",
	}, "\n") + "\n"
	for _, mode := range mdmModes {
		t.Run(mode.String(), func(t *testing.T) {
			first, _ := convertMDM(t, mode, fmt.Sprintf(oru, "LAB-1", "P"))
			again, _ := convertMDM(t, mode, fmt.Sprintf(oru, "LAB-2", "F"))
			drs := entriesOf[fhir.DiagnosticReport](first)
			if len(drs) != 1 {
				t.Fatalf("%d reports", len(drs))
			}
			var ids []string
			for _, id := range drs[0].Identifier {
				ids = append(ids, firstCode(id.Type)+" "+id.Value)
			}
			if got := strings.Join(ids, ", "); got != "FILL L-8001, PLAC ORD-7001" {
				t.Errorf("report identifiers %q, want ORC-3 and ORC-2", got)
			}
			if a, b := reportURL(t, first), reportURL(t, again); a != b {
				t.Errorf("the corrected report is written at %s, the first at %s: two reports", b, a)
			}
		})
	}
}

func reportURL(t *testing.T, b *fhir.Bundle) string {
	t.Helper()
	for _, e := range b.Entry {
		if _, ok := e.Resource.(*fhir.DiagnosticReport); ok {
			return e.Request.URL
		}
	}
	t.Fatal("no DiagnosticReport")
	return ""
}

// TestOULReportNumbersFromORC: an OUL^R22 or R24 report whose order
// numbers are in its ORC alone (which OUL puts after its OBR) is keyed by
// them as an ORU^R01's is (TestReportNumbersFromORC): it was keyed by its
// message control id, without a PLAC or FILL identifier, and the same
// report sent again became a second DiagnosticReport at the exchange.
func TestOULReportNumbersFromORC(t *testing.T) {
	oul := strings.Join([]string{
		"MSH|^~\\&|LIS|ACMELAB|EPIC|SPRINGCLINIC|20261125101500||OUL^%s^OUL_%[1]s|%s|P|2.5.1|||NE|NE",
		"PID|1||MRN123^^^HOSP^MR||Rivera^Ana||19800202|F",
		"SPM|1|SP-1&EPIC^SP-1-A&ACMELAB||BLD^Whole blood^HL70487",
		"OBR|1|||24331-1^Lipid panel^LN|||||||||||||||||||||%s",
		"ORC|SC|ORD-7001^EPIC|L-8001^ACMELAB||CM",
		"OBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL^^UCUM|<200|N|||%[3]s",
	}, "\n") + "\n"
	for _, trig := range []string{"R22", "R24"} {
		for _, mode := range mdmModes {
			t.Run(trig+"/"+mode.String(), func(t *testing.T) {
				first, _ := convertMDM(t, mode, fmt.Sprintf(oul, trig, "LAB-1", "P"))
				again, _ := convertMDM(t, mode, fmt.Sprintf(oul, trig, "LAB-2", "F"))
				drs := entriesOf[fhir.DiagnosticReport](first)
				if len(drs) != 1 {
					t.Fatalf("%d reports", len(drs))
				}
				var ids []string
				for _, id := range drs[0].Identifier {
					ids = append(ids, firstCode(id.Type)+" "+id.Value)
				}
				if got := strings.Join(ids, ", "); got != "FILL L-8001, PLAC ORD-7001" {
					t.Errorf("report identifiers %q, want ORC-3 and ORC-2", got)
				}
				if a, b := reportURL(t, first), reportURL(t, again); a != b {
					t.Errorf("the corrected report is written at %s, the first at %s: two reports", b, a)
				}
			})
		}
	}
}
