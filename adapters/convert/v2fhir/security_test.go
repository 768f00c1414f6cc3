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

// TestAccessRestrictionsARV: the ARV segment (v2.6+, Access
// Restrictions), which the v2-to-FHIR IG maps to meta.security: ARV-3
// (table 0717) and ARV-4 (table 0719) are labels that restrict, so R at
// least (ARV-3 HIV, PSY, STD as their v3 sensitivity codes, ARV-4 VIP as
// CEL, the other values under their v2 tables), ARV-7 a confidentiality
// code, ARV-8 handling codes kept out of the Bundle's high-water mark. An
// ARV after PID/PD1 restricts the person, so the whole message; one after
// PV1/PV2 the visit, as PV2-22 does (not the Patient). An ARV whose
// action (ARV-2) deletes the restriction, and ARV-3 NO (none), add none.
func TestAccessRestrictionsARV(t *testing.T) {
	head := "MSH|^~\\&|APP|FAC|FERRY|HIE|20240315083000|MSH8|ADT^A01^ADT_A01|ARV-1|P|2.9\rEVN|A01|20240315082955\r" +
		"PID|1||M1^^^FAC^MR||Doe^Ann||19800101|F\r"
	visit := "PV1|1|I|WARD\rPV2\r"
	for _, tc := range []struct {
		name, msh8, patientARV, visitARV string
		patient, encounter, bundle       string
	}{
		{"person", "", "ARV|1|A|DEM^All demographic data^HL70717|VIP^Very important person or celebrity^HL70719\r", "",
			"R,DEM,CEL", "R,DEM,CEL", "R,DEM,CEL"},
		{"person under MSH-8 N", "N", "ARV|1|A|PID-17^Religion^HL70717|PAT^Patient request^HL70719\r", "",
			"R,PID-17,PAT", "R,PID-17,PAT", "R,PID-17,PAT"},
		{"visit", "", "", "ARV|1|A|HIV^HIV status and results^HL70717\r",
			"", "R,HIV", "R,HIV"},
		{"classification and handling", "", "", "ARV|1|A|SMD^Sensitive medical data^HL70717||||V^very restricted^HL70952|NODSCLCD^^HL70953\r",
			"", "V,SMD,NODSCLCD", "V,SMD"},
		{"restriction deleted", "", "ARV|1|D|DEM^All demographic data^HL70717\r", "ARV|1|D|PSY^^HL70717\r", "", "", ""},
		{"no restriction", "", "ARV|1|A|NO^None^HL70717\r", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := strings.Replace(head, "MSH8", tc.msh8, 1) + tc.patientARV + visit + tc.visitARV
			var c Converter
			b, res, err := c.ConvertRaw([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if b.Meta != nil {
				got = codes(b.Meta.Security)
			}
			want := tc.bundle
			if want == "" {
				want = tc.msh8
			}
			if got != want {
				t.Errorf("bundle labels %q, want %q", got, want)
			}
			if tc.bundle != "" && !strings.HasPrefix(codes(res.Labels), tc.bundle[:1]) {
				t.Errorf("Result.Labels %q, want %s first", codes(res.Labels), tc.bundle[:1])
			}
			for _, e := range b.Entry {
				m, typ := metaOf(e.Resource)
				var got, want string
				if *m != nil {
					got = codes((*m).Security)
				}
				switch typ {
				case "Patient":
					want = tc.patient
				case "Encounter":
					want = tc.encounter
				default:
					continue
				}
				if want == "" {
					want = tc.msh8
				}
				if got != want {
					t.Errorf("%s labels %q, want %q", typ, got, want)
				}
			}
		})
	}
}

// TestVisitProtectionAnyPV2: PV2-22 "Y" protects its visit wherever its
// PV2 stands: an ORU_R01 reporting for two patients, whose second visit
// is protected, labels that visit's results R (and the Bundle), not only
// when the message's first PV2 says so.
func TestVisitProtectionAnyPV2(t *testing.T) {
	pv2 := "PV2" + strings.Repeat("|", 22) + "Y"
	raw := "MSH|^~\\&|LAB|FAC|FERRY|HIE|20240315083000||ORU^R01^ORU_R01|PV2-2|P|2.5.1\r" +
		"PID|1||M1^^^FAC^MR||Doe^Ann||19800101|F\rPV1|1|O|CLINIC||||||||||||||||V1\rPV2\r" +
		"OBR|1||F1^LAB|2345-7^Glucose^LN|||20240315080000\rOBX|1|NM|2345-7^Glucose^LN||95|mg/dL|||||F\r" +
		"PID|2||M2^^^FAC^MR||Roe^Bob||19700101|M\rPV1|1|O|CLINIC||||||||||||||||V2\r" + pv2 + "\r" +
		"OBR|1||F2^LAB|2345-7^Glucose^LN|||20240315080000\rOBX|1|NM|2345-7^Glucose^LN||180|mg/dL|||||F\r"
	var c Converter
	b, res, err := c.ConvertRaw([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if b.Meta == nil || codes(b.Meta.Security) != "R" {
		t.Fatalf("bundle meta %+v, want R", b.Meta)
	}
	if got := codes(res.Labels); got != "R" {
		t.Errorf("Result.Labels %q, want R", got)
	}
	for _, e := range b.Entry {
		if o, ok := e.Resource.(*fhir.Observation); ok && (o.Meta == nil || codes(o.Meta.Security) != "R") {
			t.Errorf("Observation %s unlabelled: %+v", o.ID, o.Meta)
		}
	}
}
