package xdmfhir

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// The patientId's assigning authority decides the identifier system as it
// does for an HL7 v2 CX.4; one ferry cannot name gives no subject.
func TestPatientID(t *testing.T) {
	c := &Converter{Systems: map[string]string{"RIVERSIDE": "https://riverside.example/mrn"}}
	for _, tc := range []struct{ cx, system, value string }{
		{"MRN-7^^^&2.16.840.1.113883.3.999.1&ISO", "urn:oid:2.16.840.1.113883.3.999.1", "MRN-7"},
		{"MRN-7^^^RIVERSIDE", "https://riverside.example/mrn", "MRN-7"},
		{"MRN-7^^^RIVERSIDE&1.2.3&ISO", "urn:oid:1.2.3", "MRN-7"},
		{"MRN-7^^^&1.2.3", "urn:oid:1.2.3", "MRN-7"},
		{"MRN-7^^^OTHER", "", ""},
		{"MRN-7", "", ""},
		{"^^^&1.2.3&ISO", "", ""},
	} {
		sys, val, ok := c.patientID(tc.cx)
		if sys != tc.system || val != tc.value || ok != (tc.system != "") {
			t.Errorf("%q: %q %q %v", tc.cx, sys, val, ok)
		}
	}
}

func TestMasterIdentifier(t *testing.T) {
	for uid, want := range map[string]*fhir.Identifier{
		"1.2.840.99999.7.2":                             {Use: "usual", System: "urn:ietf:rfc:3986", Value: "urn:oid:1.2.840.99999.7.2"},
		"1.2.840.99999.7^DOC-2":                         {Use: "usual", System: "urn:oid:1.2.840.99999.7", Value: "DOC-2"},
		"urn:uuid:0F8FAD5B-D9CB-469F-A165-70867728950E": {Use: "usual", System: "urn:ietf:rfc:3986", Value: "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"},
		"":         nil,
		"DOC-0002": nil,
	} {
		if got := masterIdentifier(uid); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %+v, want %+v", uid, got, want)
		}
	}
}

func TestDTM(t *testing.T) {
	for dtm, want := range map[string]string{
		"2026":             "2026",
		"202602":           "2026-02",
		"20260228":         "2026-02-28",
		"2026022815":       "2026-02-28T15:00:00Z",
		"202602281530":     "2026-02-28T15:30:00Z",
		"20260228153012":   "2026-02-28T15:30:12Z",
		"20260228153012.5": "2026-02-28T15:30:12Z",
		"2026022815301":    "",
		"yesterday":        "",
	} {
		if got := fhirDateTime(dtm); got != want {
			t.Errorf("%q: %q, want %q", dtm, got, want)
		}
	}
	if at, ok := dtmTime("20260301"); !ok || !at.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("dtmTime %v %v", at, ok)
	}
	if got := xpnText("Roe^Jane^Ann^^Dr"); got != "Roe, Jane Ann" {
		t.Errorf("xpnText %q", got)
	}
}

// The Entry crosses Raw.Meta with its PHI under phi. only, and comes back
// whole.
func TestEntryMeta(t *testing.T) {
	e := Entry{UniqueID: "1.2.3", MimeType: "application/pdf", TypeCode: &Code{"57133-1", "2.16.840.1.113883.6.1", "Referral note"},
		PatientID: "MRN-7^^^&1.2.3&ISO", PatientName: "Roe^Jane", Title: "Referral for Jane Roe", Comments: "urgent"}
	m := e.Meta()
	if strings.Contains(m[MetaEntry], "MRN-7") || strings.Contains(m[MetaEntry], "Roe") || !strings.HasPrefix(MetaPHI, "phi.") {
		t.Errorf("PHI outside phi.: %v", m)
	}
	got, ok, err := EntryFromMeta(m)
	if err != nil || !ok || !reflect.DeepEqual(got, e) {
		t.Errorf("round trip: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := EntryFromMeta(map[string]string{}); ok {
		t.Error("an Entry from empty meta")
	}
	if s := StripPHI(m); s[MetaPHI] != "" || s[MetaEntry] == "" {
		t.Errorf("StripPHI %v", s)
	}
}

// A coding scheme OID ferry knows is its FHIR URI; another OID is
// urn:oid:; a bare name is no system.
func TestCoding(t *testing.T) {
	for _, tc := range []struct {
		in   Code
		want fhir.Coding
	}{
		{Code{"57133-1", "2.16.840.1.113883.6.1", "Referral note"}, fhir.Coding{System: "http://loinc.org", Code: "57133-1", Display: "Referral note"}},
		{Code{"57133-1", "LOINC", ""}, fhir.Coding{System: "http://loinc.org", Code: "57133-1"}},
		{Code{"R", "2.16.840.1.113883.5.25", ""}, fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "R"}},
		{Code{"X", "1.2.3", ""}, fhir.Coding{System: "urn:oid:1.2.3", Code: "X"}},
		{Code{"X", "Connect-a-thon classCodes", "x"}, fhir.Coding{Code: "X", Display: "x"}},
	} {
		if got := coding(&tc.in); *got != tc.want {
			t.Errorf("%+v: %+v", tc.in, *got)
		}
	}
}
