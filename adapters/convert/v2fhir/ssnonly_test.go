package v2fhir

import (
	"errors"
	"strings"
	"testing"
)

// TestSSNOnlyIsSaidSo: a PID-3 (or an A40's MRG-1) that gives the
// patient's SSN and nothing else is refused, since ferry neither keys
// nor sends a patient by an SSN (US Core: Patient.identifier SHOULD NOT
// carry one). The error said "no patient identifier", which the
// contractor reading the AE's ERR or `ferry quarantine list` finds
// false, the field holding one; it says the SSN is why.
func TestSSNOnlyIsSaidSo(t *testing.T) {
	head := func(event string) string {
		return "MSH|^~\\&|ADT|CLINICA|HIE|HIE|20240105101500||ADT^" + event + "|A1|P|2.5.1\rEVN|" + event + "|20240105101500\r"
	}
	for _, tc := range []struct{ name, msg, field string }{
		{"pid", head("A08") + "PID|1||222334444^^^SSA^SS||Roe^Rick||19700101|M\r", "PID-3"},
		{"pid-typed", head("A08") + "PID|1||222-33-4444^^^^SS||Roe^Rick||19700101|M\r", "PID-3"},
		{"mrg", head("A40") + "PID|1||100^^^HOSP^MR||Roe^Rick||19700101|M\rMRG|222334445^^^SSA^SS\r", "MRG-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := testConverter(t).ConvertRaw([]byte(tc.msg))
			var ce *ContentError
			if !errors.As(err, &ce) {
				t.Fatalf("err %v, want a ContentError", err)
			}
			if ce.Field != tc.field || !strings.Contains(ce.Reason, "SSN") {
				t.Errorf("%s: %q, want %s and a reason that names the SSN", ce.Field, ce.Reason, tc.field)
			}
			if strings.Contains(err.Error(), "222") {
				t.Errorf("the error quotes the SSN: %v", err)
			}
		})
	}
}
