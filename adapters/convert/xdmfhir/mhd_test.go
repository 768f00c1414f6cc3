package xdmfhir

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// mhdBundle converts e (a PDF) under profile and returns the bundle as
// generic JSON.
func mhdBundle(t *testing.T, profile string, e Entry) map[string]any {
	t.Helper()
	docs, err := faxfhir.New(faxfhir.Config{Profile: profile, SourceID: "1.3.6.1.4.1.21367.2026.1",
		FacilityType: "http://snomed.info/sct|35971002|Ambulatory care site", PracticeSetting: "http://snomed.info/sct|394802001|General medicine"})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	if _, err := (&Converter{Docs: docs}).WriteRaw(context.Background(), &body, adapters.Raw{Name: "doc.pdf", Body: pdf, Meta: e.Meta()}); err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func resources(b map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, e := range b["entry"].([]any) {
		r := e.(map[string]any)["resource"].(map[string]any)
		if r["resourceType"] == typ {
			out = append(out, r)
		}
	}
	return out
}

func referralEntry() Entry {
	return Entry{UniqueID: "1.2.840.99999.7.2", MimeType: "application/pdf", CreationTime: "20260228153000", LanguageCode: "en-US",
		TypeCode:  &Code{"57133-1", "2.16.840.1.113883.6.1", "Referral note"},
		ClassCode: &Code{"REFERRAL", "1.3.6.1.4.1.21367.100.1", "Referral"},
		PatientID: "MRN-7^^^&2.16.840.1.113883.3.999.1&ISO", SourcePatientID: "LOCAL-7^^^&1.2.840.99999.3&ISO", PatientName: "Roe^Jane"}
}

// MHD's DocumentReference profiles make category 0..1 (Minimal) and 1..1
// (Comprehensive): XDS classCode is single-valued. US Core's
// clinical-note goes beside the classCode only under us-core.
func TestMHDCategoryIsTheClassCode(t *testing.T) {
	for _, profile := range []string{faxfhir.ProfileMHDMinimal, faxfhir.ProfileMHDComprehensive} {
		b := mhdBundle(t, profile, referralEntry())
		for _, dr := range resources(b, "DocumentReference") {
			cats, _ := dr["category"].([]any)
			if len(cats) != 1 {
				t.Errorf("%s: %d categories, want 1 (the XDS classCode): %v", profile, len(cats), cats)
				continue
			}
			if code := cats[0].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]; code != "REFERRAL" {
				t.Errorf("%s: category %v, want the classCode REFERRAL", profile, code)
			}
		}
	}
	b := mhdBundle(t, faxfhir.ProfileUSCore, referralEntry())
	for _, dr := range resources(b, "DocumentReference") {
		if cats, _ := dr["category"].([]any); len(cats) != 2 {
			t.Errorf("us-core: %d categories, want clinical-note and the classCode", len(cats))
		}
	}
}

// MHD 4.2.5 tells the uniqueId and entryUUID identifiers apart by
// Identifier.type (MHDIdentifierType, 1..1), where 4.2.2 and 4.2.3 use
// Identifier.use: the bundle carries both, so it is valid under either.
func TestMHDIdentifierTypes(t *testing.T) {
	const sys = "https://profiles.ihe.net/ITI/MHD/CodeSystem/IHE.MHD.MHDIdentifierType"
	typeOf := func(id any) string {
		m, _ := id.(map[string]any)
		tp, _ := m["type"].(map[string]any)
		cs, _ := tp["coding"].([]any)
		if len(cs) != 1 || cs[0].(map[string]any)["system"] != sys {
			return ""
		}
		code, _ := cs[0].(map[string]any)["code"].(string)
		return code
	}
	for _, e := range []Entry{referralEntry(), {MimeType: "application/pdf"}} {
		b := mhdBundle(t, faxfhir.ProfileMHDMinimal, e)
		for _, dr := range resources(b, "DocumentReference") {
			if got := typeOf(dr["masterIdentifier"]); got != "uniqueId" {
				t.Errorf("masterIdentifier type %q, want uniqueId: %v", got, dr["masterIdentifier"])
			}
			for _, id := range dr["identifier"].([]any) {
				if got := typeOf(id); got != "entryUUID" {
					t.Errorf("identifier type %q, want entryUUID: %v", got, id)
				}
			}
		}
		for _, ss := range resources(b, "List") {
			ids := ss["identifier"].([]any)
			if typeOf(ids[0]) != "uniqueId" || typeOf(ids[1]) != "entryUUID" {
				t.Errorf("SubmissionSet identifiers %v, want typed uniqueId and entryUUID", ids)
			}
		}
	}
}
