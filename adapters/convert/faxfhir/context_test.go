package faxfhir

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestFacilityAndPracticeUnderEveryProfile: a document's facility type
// and practice setting (an XDM entry's healthcareFacilityTypeCode and
// practiceSettingCode, or fax.facility_type and practice_setting) reach
// DocumentReference.context whatever the profile. MHD maps them there
// (3:4.5.1.1) and its Minimal DocumentReference has them (0..1, must
// support), as does the Simplified Publish one; they were written under
// mhd-comprehensive only, so the default profile dropped what the package
// or the configuration said. sourcePatientInfo stays Comprehensive's.
func TestFacilityAndPracticeUnderEveryProfile(t *testing.T) {
	facility := &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://snomed.info/sct", Code: "22232009", Display: "Hospital"}}}
	practice := &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://snomed.info/sct", Code: "394814009", Display: "General practice"}}}
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	docRefs := func(t *testing.T, profile string, d Document) []any {
		t.Helper()
		cfg := testConfig()
		cfg.Profile = profile
		cfg.PatientConditionalRef = profile != ProfileMHDSimplified
		cfg.FacilityType = "http://snomed.info/sct|35971002|Ambulatory care site"
		cfg.PracticeSetting = "http://snomed.info/sct|394802001|General medicine"
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var w bytes.Buffer
		if d.Open != nil {
			_, err = c.WriteDocument(context.Background(), &w, d)
		} else {
			_, err = c.WriteRaw(context.Background(), &w, rawFor(t, "g4-fine-1p.tif", testFax()))
		}
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		if str(out, "resourceType") == "DocumentReference" {
			return []any{out}
		}
		var drs []any
		for _, e := range get(out, "entry").([]any) {
			if str(e, "resource", "resourceType") == "DocumentReference" {
				drs = append(drs, get(e, "resource"))
			}
		}
		return drs
	}
	for _, profile := range []string{ProfileMHDMinimal, ProfileMHDComprehensive, ProfileMHDSimplified, ProfileUSCore} {
		t.Run(profile, func(t *testing.T) {
			// An XDM document with its own codes.
			d := Document{Name: "x.pdf", Patient: &Patient{System: testConfig().PatientSystem, Value: "MRN-0042"},
				FacilityType: facility, PracticeSetting: practice,
				Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pdf)), nil }}
			for _, dr := range docRefs(t, profile, d) {
				if str(dr, "context", "facilityType", "coding", 0, "code") != "22232009" || str(dr, "context", "practiceSetting", "coding", 0, "code") != "394814009" {
					t.Errorf("document: context %v", get(dr, "context"))
				}
				if src := get(dr, "context", "sourcePatientInfo"); (src != nil) != (profile == ProfileMHDComprehensive) {
					t.Errorf("document: sourcePatientInfo %v", src)
				}
			}
			// A fax with the configured ones.
			for _, dr := range docRefs(t, profile, Document{}) {
				if str(dr, "context", "facilityType", "coding", 0, "code") != "35971002" || str(dr, "context", "practiceSetting", "coding", 0, "code") != "394802001" {
					t.Errorf("fax: context %v", get(dr, "context"))
				}
			}
		})
	}
}
