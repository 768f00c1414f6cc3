package ccdafhir

import "testing"

// TestDS4PActCodeInCapitals: a privacy annotation whose ActCode value is
// written in another case than v3-ActCode's ("42CFRPART2" for
// 42CFRPart2) is that code, written as v3-ActCode has it (v3 codes are
// case-sensitive): kept as the sender wrote it, exchange.hold:
// [42CFRPart2] and the exchange's DS4P rules did not find it.
func TestDS4PActCodeInCapitals(t *testing.T) {
	raw := ds4pDocument(t, nil, []string{secObs("", "SECCATOBS", "42CFRPART2", "2.16.840.1.113883.5.4")})
	b, _, err := ConvertBytes(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := conditionLabels(t, b)["233604007"]; got != "N,42CFRPart2" {
		t.Errorf("annotated condition labelled %s, want N,42CFRPart2", got)
	}
	if got := codeList(b.Meta.Security); got != "N,42CFRPart2" {
		t.Errorf("Bundle meta.security %s, want N,42CFRPart2", got)
	}
}
