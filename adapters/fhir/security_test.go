package fhir

import (
	"slices"
	"strings"
	"testing"
)

func labelCodes(cs []Coding) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Code
	}
	return strings.Join(s, ",")
}

func TestHighWaterMark(t *testing.T) {
	conf := func(c string) Coding { return Coding{System: SystemConfidentiality, Code: c} }
	act := func(c string) Coding { return Coding{System: SystemActCode, Code: c} }
	for _, tc := range []struct {
		in   []Coding
		want string
	}{
		{nil, ""},
		{[]Coding{conf("N")}, "N"},
		// the highest confidentiality, where the first stood
		{[]Coding{act("SUD"), conf("N"), conf("V"), conf("R")}, "SUD,V"},
		// refrain, obligation and purpose of use never go in
		{[]Coding{conf("R"), act("NORDSCLCD"), act("42CFRPart2"), act("MASK"),
			{System: SystemActReason, Code: "TREAT"}}, "R,42CFRPart2"},
		// a refrain code named under another system is still one
		{[]Coding{conf("R"), {System: SystemObservationValue, Code: "NODSCLCD"}}, "R"},
		// a sender's own code is kept
		{[]Coding{conf("R"), {System: "urn:oid:1.2.3", Code: "SECRET"}}, "R,SECRET"},
		// a sensitivity or policy code without a confidentiality implies R
		{[]Coding{act("HIV"), act("NORDSCLCD")}, "R,HIV"},
		{[]Coding{act("42CFRPart2")}, "R,42CFRPart2"},
		// handling codes or a sender's own code alone imply nothing
		{[]Coding{act("NORDSCLCD")}, ""},
		{[]Coding{{System: "urn:oid:1.2.3", Code: "SECRET"}}, "SECRET"},
	} {
		if got := labelCodes(HighWaterMark(tc.in)); got != tc.want {
			t.Errorf("HighWaterMark(%s) = %s, want %s", labelCodes(tc.in), got, tc.want)
		}
	}
}

func TestLabels(t *testing.T) {
	l := NewLabels()
	if !l.Empty() || l.Coding() != nil {
		t.Fatalf("new set not empty: %v", l.Coding())
	}
	// codes without a confidentiality imply R
	l.AddText("psy", "", "urn:x")
	l.AddText("nodsclcd", "", "urn:x")
	if got := labelCodes(l.Coding()); got != "R,PSY,NODSCLCD" {
		t.Errorf("got %s, want R,PSY,NODSCLCD", got)
	}
	if got := labelCodes(l.HighWaterMark().Coding()); got != "R,PSY" {
		t.Errorf("high-water mark %s, want R,PSY", got)
	}
	// a confidentiality code raises, never lowers
	l.AddText("v", "", "urn:x")
	l.AddCoding(Coding{System: SystemConfidentiality, Code: "N"})
	if got := labelCodes(l.Coding()); got != "V,PSY,NODSCLCD" {
		t.Errorf("got %s, want V,PSY,NODSCLCD", got)
	}
	// an unknown code is kept under the system given, once
	l.AddText("LOCAL", "local", "urn:x")
	l.AddText("LOCAL", "local", "urn:x")
	if got := labelCodes(l.Coding()); got != "V,PSY,NODSCLCD,LOCAL" {
		t.Errorf("got %s", got)
	}
	// a confidentiality alone is a label: absence is not N, presence is
	m := NewLabels()
	m.Raise(ConfidentialityRank("N"))
	if got := labelCodes(m.Coding()); got != "N" {
		t.Errorf("got %s, want N", got)
	}
}

func TestDescribesData(t *testing.T) {
	for code, want := range map[string]bool{"R": true, "N": true, "PSY": true, "42CFRPart2": true,
		"NODSCLCD": false, "MASK": false, "ENCRYPT": false, "r": false, "LOCAL": false, "": false} {
		if got := DescribesData(code); got != want {
			t.Errorf("DescribesData(%q) = %v, want %v", code, got, want)
		}
	}
}

// TestOneConfidentiality: of several v3-Confidentiality codes (in any
// case) only the most restrictive stays, where the first stood; every
// other label stays, handling codes too; fewer than two leave the labels
// as they are.
func TestOneConfidentiality(t *testing.T) {
	conf := func(c string) Coding { return Coding{System: SystemConfidentiality, Code: c} }
	act := func(c string) Coding { return Coding{System: SystemActCode, Code: c} }
	for _, tc := range []struct {
		in   []Coding
		want string
	}{
		{nil, ""},
		{[]Coding{conf("N"), act("MASK")}, "N,MASK"},
		{[]Coding{act("ETH"), conf("N"), act("NODSCLCD"), conf("v"), conf("R")}, "ETH,v,NODSCLCD"},
		{[]Coding{conf("N"), {System: "urn:oid:1.2", Code: "R"}, conf("R")}, "R,R"},
	} {
		if got := labelCodes(OneConfidentiality(tc.in)); got != tc.want {
			t.Errorf("OneConfidentiality(%s) = %s, want %s", labelCodes(tc.in), got, tc.want)
		}
	}
}

// TestHighWaterMarkUnderR4System: a v3-Confidentiality code the labels
// give under one of the code system's older names (FHIR STU3's URI, the
// OID as a URI) or in lower case is ranked as that code, and the
// high-water mark a Bundle carries writes it as v3-Confidentiality's R4
// code: DS4P has a Bundle's mark hold exactly one code of
// http://terminology.hl7.org/CodeSystem/v3-Confidentiality, whose codes
// are case-sensitive, so an exchange would otherwise find none and take
// the bundle as unlabelled. The labels passed in are left as they are.
func TestHighWaterMarkUnderR4System(t *testing.T) {
	stu3 := Coding{System: "http://hl7.org/fhir/v3/Confidentiality", Code: "r"}
	oid := Coding{System: "urn:oid:2.16.840.1.113883.5.25", Code: "V", Display: "very restricted"}
	hiv := Coding{System: SystemActCode, Code: "HIV"}
	for _, tc := range []struct {
		in   []Coding
		want []Coding
	}{
		{[]Coding{stu3}, []Coding{ConfidentialityCoding(RankRestricted)}},
		{[]Coding{hiv, stu3}, []Coding{hiv, ConfidentialityCoding(RankRestricted)}},
		{[]Coding{stu3, oid, hiv}, []Coding{ConfidentialityCoding(ConfidentialityRank("V")), hiv}},
		{[]Coding{{System: SystemConfidentiality, Code: "n"}}, []Coding{ConfidentialityCoding(ConfidentialityRank("N"))}},
	} {
		in := slices.Clone(tc.in)
		if got := HighWaterMark(in); !slices.Equal(got, tc.want) {
			t.Errorf("HighWaterMark(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("HighWaterMark changed its input: %v, was %v", in, tc.in)
		}
	}
}

// TestAddTextActCodeAnyCase: a known v3-ActCode security code given as
// text is that code in any case, as AddText says: an HL7 v2 feed writing
// MSH-8 or TXA-18 in capitals ("42CFRPART2"), or one in lower case, gives
// the code as v3-ActCode has it (42CFRPart2), a policy code in the
// high-water mark that exchange.hold: [42CFRPart2] and the exchange's
// DS4P rules find, not a sender's own code under the field's system.
func TestAddTextActCodeAnyCase(t *testing.T) {
	for _, code := range []string{"42CFRPART2", "42cfrpart2", "42CFRPart2"} {
		l := NewLabels()
		l.AddText(code, "", "urn:ferry:msh-8")
		want := []Coding{ConfidentialityCoding(RankRestricted), {System: SystemActCode, Code: "42CFRPart2"}}
		if got := l.HighWaterMark().Coding(); !slices.Equal(got, want) {
			t.Errorf("AddText(%q): high-water mark %v, want %v", code, got, want)
		}
	}
	l := NewLabels()
	l.AddText("Hiv", "", "urn:x")
	l.AddText("nodsclcd", "", "urn:x")
	if got := l.Coding(); len(got) != 3 || got[1] != (Coding{System: SystemActCode, Code: "HIV"}) || got[2] != (Coding{System: SystemActCode, Code: "NODSCLCD"}) {
		t.Errorf("AddText(Hiv, nodsclcd): %v", got)
	}
}
