package faxfhir

import (
	"strings"
	"testing"
)

// TestConfigFacilityAndPracticeAreCodings: fax.facility_type and
// fax.practice_setting are documented as system|code|display and become
// DocumentReference.context.facilityType and practiceSetting, which IHE
// MHD maps to XDS healthcareFacilityTypeCode and practiceSettingCode, a
// coded value whose codingScheme is required (and which
// mhd-comprehensive requires). A value written otherwise was taken as
// it came: a bare code or a display ("Ambulatory care site") became a
// coding with no system, "code|display" one whose system was the code,
// and a bare OID a system no FHIR server knows, on every document, while
// ferry config check said ok. Each is refused, naming the field.
func TestConfigFacilityAndPracticeAreCodings(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"http://snomed.info/sct|35971002|Ambulatory care site", ""},
		{"http://snomed.info/sct|35971002", ""},
		{"urn:oid:2.16.840.1.113883.6.96|35971002|Ambulatory care site", ""},
		{"", ""},
		{"35971002", "system|code"},
		{"Ambulatory care site", "system|code"},
		{"35971002|Ambulatory care site", "absolute URI"},
		{"2.16.840.1.113883.6.96|35971002", "write it as urn:oid:2.16.840.1.113883.6.96"},
		{"http://snomed.info/sct||Ambulatory care site", "no code"},
		{"http://snomed.info/sct | 35971002 | Ambulatory care site", "spaces"},
	} {
		for _, field := range []string{"facility_type", "practice_setting"} {
			cfg := testConfig()
			if field == "facility_type" {
				cfg.FacilityType = tc.value
			} else {
				cfg.PracticeSetting = tc.value
			}
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s %q: %v", field, tc.value, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), field+":") || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s %q: %v, want an error naming %s saying %q", field, tc.value, err, field, tc.want)
			}
		}
	}
}
