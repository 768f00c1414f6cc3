package xdmfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// Each XDS confidentialityCode is one securityLabel (MHD maps
// securityLabel to DocumentEntry.confidentialityCode, one to one): codings
// of one CodeableConcept would say R and ETH mean the same thing.
func TestSecurityLabelPerCode(t *testing.T) {
	e := referralEntry()
	e.Confidentiality = []Code{{"R", "2.16.840.1.113883.5.25", "restricted"}, {"ETH", "2.16.840.1.113883.5.4", "substance abuse information sensitivity"}}
	for _, profile := range []string{faxfhir.ProfileMHDMinimal, faxfhir.ProfileUSCore} {
		b := mhdBundle(t, profile, e)
		for _, dr := range resources(b, "DocumentReference") {
			labels, _ := dr["securityLabel"].([]any)
			if len(labels) != 2 {
				t.Errorf("%s: %d securityLabels, want 2 (one per code): %v", profile, len(labels), labels)
			}
			for _, l := range labels {
				if n := len(l.(map[string]any)["coding"].([]any)); n != 1 {
					t.Errorf("%s: a securityLabel with %d codings: %v", profile, n, l)
				}
			}
		}
	}
}
