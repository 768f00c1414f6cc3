package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPatientNotKeyedByAccountNumber: a PID-3 without an MR listing the
// patient's account or visit number (AN, VN), an insurance number (MA,
// MC) or a driver's license (DL) before the patient's own identifier
// (PI, or one without a type) keyed the record by that first number: each
// admission, under its own account number, wrote a new Patient at the
// exchange (and queued apart, out of order with the others), and an A40
// retired the account rather than the patient's record. The patient is
// keyed by an MR, else by the first identifier that is not of an
// account, visit, insurance card or document, else by the first.
func TestPatientNotKeyedByAccountNumber(t *testing.T) {
	const pi = "urn:oid:2.16.840.1.113883.3.999.1|555"
	msg := func(pid3 string) string {
		return "MSH|^~\\&|ADT|CLINICA|HIE|HIE|20240105101500||ADT^A08|A1|P|2.5.1\rEVN|A08|20240105101500\r" +
			"PID|1||" + pid3 + "||Roe^Rick||19700101|M\r"
	}
	for _, tc := range []struct{ name, pid3, want string }{
		{"account first", "ACC1^^^HOSP^AN~555^^^HOSP^PI", pi},
		{"another admission", "ACC2^^^HOSP^AN~555^^^HOSP^PI", pi},
		{"visit first", "V1^^^HOSP^VN~555^^^HOSP^PI", pi},
		{"medicaid first", "M77^^^HOSP^MA~555^^^HOSP", pi},
		{"license first", "D1234^^^HOSP^DL~555^^^HOSP^PI", pi},
		{"mr wins", "ACC1^^^HOSP^AN~9^^^HOSP^PI~555^^^HOSP^MR", pi},
		{"account alone", "ACC1^^^HOSP^AN", "urn:oid:2.16.840.1.113883.3.999.1|ACC1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConverter(t)
			c.Mode = ModeID
			_, res, err := c.ConvertRaw([]byte(msg(tc.pid3)))
			if err != nil {
				t.Fatal(err)
			}
			got := res.PatientIdentifier.System + "|" + res.PatientIdentifier.Value
			if got != tc.want {
				t.Errorf("patient keyed by %s, want %s", got, tc.want)
			}
			sys, val, _ := strings.Cut(tc.want, "|")
			if res.PatientKey != fhir.PatientKey(sys, val) {
				t.Errorf("ordered under %s, want the key of %s", res.PatientKey, tc.want)
			}
		})
	}

	// An A40 whose MRG-1 lists the prior account before the prior
	// record's identifier retires that record.
	a40 := "MSH|^~\\&|ADT|CLINICA|HIE|HIE|20240105101500||ADT^A40^ADT_A39|A2|P|2.5.1\rEVN|A40|20240105101500\r" +
		"PID|1||ACC1^^^HOSP^AN~555^^^HOSP^PI||Roe^Rick||19700101|M\rMRG|ACC0^^^HOSP^AN~444^^^HOSP^PI\r"
	_, res, err := testConverter(t).ConvertRaw([]byte(a40))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Merges) != 1 || res.Merges[0].Retired.Value != "444" || res.Merges[0].Survivor.Value != "555" {
		t.Errorf("merges %+v, want 444 retired into 555", res.Merges)
	}
}
