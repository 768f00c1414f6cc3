package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

func codes(sec []fhir.Coding) string {
	var s []string
	for _, c := range sec {
		s = append(s, c.Code)
	}
	return strings.Join(s, ",")
}

// TestSecurityLabelsMessageLevel: MSH-8 and v2.8 MSH-26/27 label every
// resource; the bundle carries one confidentiality code (the highest, V
// over R) and the Part 2 policy, but not the refrain code NODSCLCD.
func TestSecurityLabelsMessageLevel(t *testing.T) {
	msh := "MSH|^~\\&|APP|FAC|FERRY|HIE|20240315083000|R|ADT^A04^ADT_A01|SEC-1|P|2.8|||AL|NE||UNICODE UTF-8|||||||" +
		"|V^very restricted^HL70952|NODSCLCD^no disclosure^HL70953~42CFRPart2^Part 2^HL70953"
	raw := msh + "\rEVN|A04|20240315082955\rPID|1||M1^^^FAC^MR||Doe^Ann||19800101|F\rPV1|1|O|CLINIC\r"
	var c Converter
	b, _, err := c.ConvertRaw([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(b.Meta.Security); got != "V,42CFRPart2" {
		t.Fatalf("bundle labels %q, want V,42CFRPart2", got)
	}
	for _, e := range b.Entry {
		m, typ := metaOf(e.Resource)
		if *m == nil {
			t.Fatalf("%s unlabelled", typ)
		}
		if got := codes((*m).Security); got != "V,NODSCLCD,42CFRPart2" {
			t.Errorf("%s labels %q", typ, got)
		}
	}
}

// TestSecurityLabelsORC28Table0177: ORC-28 "U" (usual control) is N, not
// v3 unrestricted; a sensitivity code alone implies R; an unknown MSH-8
// value is kept and implies R; unlabelled messages get no meta at all.
func TestSecurityLabelsORC28Table0177(t *testing.T) {
	l := newLabels()
	addTable0177(l, "U", "")
	if got := codes(l.Coding()); got != "N" {
		t.Errorf("U → %q, want N", got)
	}
	l = newLabels()
	addTable0177(l, "PSY", "")
	if got := codes(l.Coding()); got != "R,PSY" {
		t.Errorf("PSY → %q, want R,PSY", got)
	}
	raw := "MSH|^~\\&|APP|FAC|FERRY|HIE|20240315083000|SECRET|ADT^A04|SEC-2|P|2.5.1\rPID|1||M1^^^FAC^MR||Doe^Ann\r"
	var c Converter
	b, _, err := c.ConvertRaw([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(b.Meta.Security); got != "R,SECRET" {
		t.Errorf("unknown MSH-8 → %q, want R,SECRET", got)
	}
	raw = strings.Replace(raw, "|SECRET|", "||", 1)
	if b, _, err = c.ConvertRaw([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if b.Meta != nil {
		t.Errorf("unlabelled message got bundle meta %+v", b.Meta)
	}
}

// TestSecurityLabelsEnvelope: labels the input's envelope gives
// (Converter.Labels, an XDM package's) label every resource as message
// labels do, beside the message's own: the higher confidentiality wins
// (R over MSH-8's N) and the Bundle keeps no refrain code.
func TestSecurityLabelsEnvelope(t *testing.T) {
	raw := "MSH|^~\\&|APP|FAC|FERRY|HIE|20240315083000|N|ADT^A04|SEC-3|P|2.5.1\rEVN|A04|20240315082955\r" +
		"PID|1||M1^^^FAC^MR||Doe^Ann||19800101|F\rPV1|1|O|CLINIC\r"
	c := Converter{Labels: []fhir.Coding{
		fhir.ConfidentialityCoding(fhir.RankRestricted),
		{System: fhir.SystemActCode, Code: "42CFRPart2"},
		{System: fhir.SystemActCode, Code: "NORDSCLCD"},
	}}
	b, res, err := c.ConvertRaw([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(b.Meta.Security); got != "R,42CFRPart2" {
		t.Errorf("bundle labels %q, want R,42CFRPart2", got)
	}
	if got := codes(res.Labels); got != "R,42CFRPart2,NORDSCLCD" {
		t.Errorf("Result.Labels %q", got)
	}
	for _, e := range b.Entry {
		m, typ := metaOf(e.Resource)
		if *m == nil {
			t.Fatalf("%s unlabelled", typ)
		}
		if got := codes((*m).Security); got != "R,42CFRPart2,NORDSCLCD" {
			t.Errorf("%s labels %q", typ, got)
		}
	}
}

// TestProtectedPatientPD1: PD1-12 (Protection Indicator, table 0136)
// "Y" says access to information about this person is to be kept from
// users without adequate authority for the patient: every resource of the
// message, the Patient too, is R, and so is the Bundle's high-water mark
// (a message labelled N by MSH-8 included), so exchange.hold keeps it
// back. "N" and an empty PD1-12 add no label.
func TestProtectedPatientPD1(t *testing.T) {
	base := "MSH|^~\\&|APP|FAC|FERRY|HIE|20240315083000|MSH8|ADT^A04^ADT_A01|PD1-1|P|2.5.1\rEVN|A04|20240315082955\r" +
		"PID|1||M1^^^FAC^MR||Doe^Ann||19800101|F\rPD1||||||||||||PD112\rPV1|1|O|CLINIC\r"
	for _, tc := range []struct{ msh8, pd112, want string }{
		{"", "Y", "R"},
		{"", "y", "R"},
		{"N", "Y", "R"},
		{"V", "Y", "V"},
		{"", "N", ""},
		{"", "", ""},
		{"N", "N", "N"},
	} {
		raw := strings.Replace(strings.Replace(base, "MSH8", tc.msh8, 1), "PD112", tc.pd112, 1)
		var c Converter
		b, res, err := c.ConvertRaw([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if b.Meta != nil {
			got = codes(b.Meta.Security)
		}
		if got != tc.want {
			t.Errorf("MSH-8 %q, PD1-12 %q: bundle labels %q, want %q", tc.msh8, tc.pd112, got, tc.want)
		}
		if got := codes(res.Labels); got != tc.want {
			t.Errorf("MSH-8 %q, PD1-12 %q: Result.Labels %q, want %q", tc.msh8, tc.pd112, got, tc.want)
		}
		for _, e := range b.Entry {
			m, typ := metaOf(e.Resource)
			var got string
			if *m != nil {
				got = codes((*m).Security)
			}
			if got != tc.want {
				t.Errorf("MSH-8 %q, PD1-12 %q: %s labels %q, want %q", tc.msh8, tc.pd112, typ, got, tc.want)
			}
		}
	}
}
