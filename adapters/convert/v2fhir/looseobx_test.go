package v2fhir

import (
	"fmt"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestLooseOBXResendStable: an OUL^R22 OBX that belongs to no OBR (a
// specimen's or the patient's own result) and has no OBX-21 must keep its
// identifier, and so its resource, when the sender re-sends the message
// under a new MSH-10: keyed by the control id it became a second
// Observation for the same result at the exchange (found by feeding the
// testdata OUL twice to the stand-in exchange).
func TestLooseOBXResendStable(t *testing.T) {
	const oul = "MSH|^~\\&|LABSYS|ACMELAB^2.16.840.1.113883.3.777^ISO|FERRY|CLINIC|20240502101500-0500||OUL^R22^OUL_R22|%s|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"SPM|1|SP-1&CLINIC^SP-1-A&ACMELAB||BLD^Whole blood^HL70487|||||||||||||20240502083000-0500\n" +
		"OBX|1|NM|20570-8^Hematocrit^LN||38.5|%%^%%^UCUM|||||F|||20240502083000-0500\n" +
		"OBX|2|NM|718-7^Hemoglobin^LN||13.1|g/dL^g/dL^UCUM|||||F\n" +
		"OBR|1|ORD-1^CLINIC|F-1^ACMELAB|24323-8^Metabolic panel^LN|||20240502083000-0500||||||||||||||||||F\n" +
		"OBX|1|NM|2345-7^Glucose^LN||182|mg/dL|||||F\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		ids := func(control string) map[string]string {
			out := map[string]string{}
			for _, o := range entriesOf[fhir.Observation](mustConvert(t, c, fmt.Sprintf(oul, control))) {
				out[o.Code.Coding[0].Code] = o.Identifier[0].System + "|" + o.Identifier[0].Value
			}
			return out
		}
		first, again := ids("OUL-1"), ids("OUL-1-RESENT")
		if len(first) != 3 {
			t.Fatalf("%s: %d Observations, want 3: %v", mode, len(first), first)
		}
		for code, id := range first {
			if again[code] != id {
				t.Errorf("%s: OBX %s: identifier %s, re-sent under a new MSH-10 %s", mode, code, id, again[code])
			}
		}
		if first["20570-8"] == first["718-7"] {
			t.Errorf("%s: two loose results share the identifier %s", mode, first["718-7"])
		}
	}
}

// TestUnnumberedReportResendStable: a result whose OBR carries neither a
// filler nor a placer order number (the shared corpus's REF^I12 and
// SIU^S12 send one so) keeps its DiagnosticReport and Observations when
// re-sent under a new MSH-10: keyed by the control id, every re-send
// added a second report and result for the same test at the exchange.
func TestUnnumberedReportResendStable(t *testing.T) {
	const oru = "MSH|^~\\&|LAB|HOSP|HIE|HIE|20220125162000||ORU^R01^ORU_R01|%s|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1|||22310-7^Helicobacter pylori Ab^LN|||202201201200|||||||||||||||||F\n" +
		"OBX|1|ST|22310-7^Helicobacter pylori Ab^LN||Positive||||||F\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		keys := func(control string) []string {
			b := mustConvert(t, c, fmt.Sprintf(oru, control))
			var out []string
			for _, r := range entriesOf[fhir.DiagnosticReport](b) {
				out = append(out, r.Identifier[0].Value)
			}
			for _, o := range entriesOf[fhir.Observation](b) {
				out = append(out, o.Identifier[0].Value)
			}
			return out
		}
		first, again := keys("R1"), keys("R1-RESENT")
		if len(first) != 2 || fmt.Sprint(first) != fmt.Sprint(again) {
			t.Errorf("%s: report and result keys %v, re-sent under a new MSH-10 %v", mode, first, again)
		}
	}
}

// TestUnnumberedReportsAtOneTimeStayApart: two tests without order numbers
// taken at the same time and sent in two messages are two reports: the
// key of an unnumbered OBR holds its test (OBR-4) beside the patient and
// the time, so the second message does not replace the first's report.
func TestUnnumberedReportsAtOneTimeStayApart(t *testing.T) {
	const oru = "MSH|^~\\&|LAB|HOSP|HIE|HIE|20220125162000||ORU^R01^ORU_R01|%s|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1|||%s|||202201201200|||||||||||||||||F\n" +
		"OBX|1|ST|%[2]s||Positive||||||F\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		key := func(control, test string) string {
			reports := entriesOf[fhir.DiagnosticReport](mustConvert(t, c, fmt.Sprintf(oru, control, test)))
			if len(reports) != 1 {
				t.Fatalf("%s: %d reports", mode, len(reports))
			}
			return reports[0].Identifier[0].Value
		}
		if a, b := key("R1", "22310-7^Helicobacter pylori Ab^LN"), key("R2", "5196-1^Hepatitis B surface Ag^LN"); a == b {
			t.Errorf("%s: two tests at one time share the report key %s", mode, a)
		}
	}
}
