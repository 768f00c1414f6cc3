package v2fhir

import (
	"strings"
	"testing"
)

// TestXTNEmailWithoutEquipmentType: XTN.3 became required only in v2.7,
// and older senders put an e-mail address in XTN.4 without it. The IG's
// XTN[ContactPoint] map makes such an XTN an e-mail (IF XTN.3 NOT VALUED
// AND XTN.4 VALUED: system "email"); it was read as a phone without a
// number and the address was dropped. A number beside it keeps it a phone.
func TestXTNEmailWithoutEquipmentType(t *testing.T) {
	for _, tc := range []struct {
		name, pid13 string
		want        []string // system|value|use
	}{
		{"e-mail, use given", "^PRN^^jane@example.org", []string{"email|jane@example.org|home"}},
		{"e-mail alone", "^^^jane@example.org", []string{"email|jane@example.org|home"}},
		{"number beside it", "^PRN^^jane@example.org^^555^1234567", []string{"phone|(555) 123-4567|home"}},
		{"equipment given", "^PRN^Internet^jane@example.org", []string{"email|jane@example.org|home"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F|||||" + tc.pid13
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var got []string
			for _, c := range p.Telecom {
				got = append(got, c.System+"|"+c.Value+"|"+c.Use)
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("telecom %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTelecomPeriod: XTN.13 and XTN.14 (effective start and expiration
// date) are ContactPoint.period (IG XTN[ContactPoint] map). They were
// dropped, so a number the sender marked as no longer in use read as
// current.
func TestTelecomPeriod(t *testing.T) {
	msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F|||||^PRN^PH^^^555^1234567^^^^^^20100101^20230301~^PRN^PH^^^555^7654321^^^^^^20230301"
	p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
	var got []string
	for _, c := range p.Telecom {
		s := c.Value + "||"
		if c.Period != nil {
			s = c.Value + "|" + c.Period.Start + "|" + c.Period.End
		}
		got = append(got, s)
	}
	want := []string{"(555) 123-4567|2010-01-01|2023-03-01", "(555) 765-4321|2023-03-01|"}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("telecom %v, want %v", got, want)
	}
}

// TestXTNCodesAnyCase: table 0202 spells the e-mail equipment type
// "Internet", and senders write it INTERNET or internet (and PH, CP,
// PRN, WPN in lower case); no two codes of tables 0201 and 0202 differ
// only in case. An XTN.3 INTERNET was matched as an unknown equipment
// type, whose value is XTN.1 or the number (the IG's XTN[ContactPoint]
// map takes XTN.4 only "IF XTN.3 IN (\"Internet\", \"X.400\")"), so the
// e-mail address was dropped; "ph" became system other and "prn" no use.
func TestXTNCodesAnyCase(t *testing.T) {
	for _, tc := range []struct {
		name, pid13 string
		want        []string // system|value|use
	}{
		{"INTERNET", "^WPN^INTERNET^jane@example.org", []string{"email|jane@example.org|work"}},
		{"internet", "^PRN^internet^jane@example.org", []string{"email|jane@example.org|home"}},
		{"x.400", "^^x.400^jane@example.org", []string{"email|jane@example.org|home"}},
		{"ph prn", "^prn^ph^^^555^1234567", []string{"phone|(555) 123-4567|home"}},
		{"cp", "^wpn^cp^^^555^1234567", []string{"phone|(555) 123-4567|mobile"}},
		{"fx", "^Wpn^Fx^^^555^1234567", []string{"fax|(555) 123-4567|work"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240101120000||ADT^A08|C1|P|2.5.1\nPID|1||123^^^HOSP^MR||Doe^Jane||19900101|F|||||" + tc.pid13
			p, _ := patientOf(t, mustConvert(t, testConverter(t), msg))
			var got []string
			for _, c := range p.Telecom {
				got = append(got, c.System+"|"+c.Value+"|"+c.Use)
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("telecom %v, want %v", got, tc.want)
			}
		})
	}
}
