package faxfhir

import (
	"strings"
	"testing"
)

// TestSubmissionSetCarriesLabels: the exchange stores each resource of an
// ITI-65 bundle on its own, without the Bundle's meta, and every resource
// of a restricted fax carried its labels (the DocumentReferences, the
// Binaries, the Patient) but the SubmissionSet List, which names the
// patient and the documents: stored unlabelled, it showed a substance use
// disorder program's fax to whoever may see normal data. It carries the
// high-water mark, as the Bundle does, under both ITI-65 profiles.
func TestSubmissionSetCarriesLabels(t *testing.T) {
	fax := testFax()
	fax.Security = []string{"R", "42CFRPart2"}
	for _, profile := range []string{ProfileMHDMinimal, ProfileMHDComprehensive} {
		cfg := testConfig()
		cfg.Profile = profile
		cfg.FacilityType = "http://snomed.info/sct|35971002|Ambulatory care site"
		cfg.PracticeSetting = "http://snomed.info/sct|394802001|General medicine"
		b := convert(t, cfg, rawFor(t, "hylafax/recvq/fax000000042.tif", fax))
		found := false
		for _, e := range get(b, "entry").([]any) {
			if str(e, "resource", "resourceType") != "List" {
				continue
			}
			found = true
			var codes []string
			for _, c := range func() []any { s, _ := get(e, "resource", "meta", "security").([]any); return s }() {
				codes = append(codes, str(c, "code"))
			}
			if got := strings.Join(codes, ","); got != "R,42CFRPart2" {
				t.Errorf("%s: SubmissionSet labelled %q, want R,42CFRPart2", profile, got)
			}
		}
		if !found {
			t.Fatalf("%s: no SubmissionSet", profile)
		}
	}
}
