package ccdafhir

import (
	"strings"
	"testing"
)

// skippedSections are a family history section with one organizer, a
// plan of treatment with a planned procedure, and a section whose
// templateId root and code a sender filled with a patient's name.
const skippedSections = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.15" extension="2015-08-01"/>
 <code code="10157-6" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="CLUSTER" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.45" extension="2015-08-01"/>
  <statusCode code="completed"/>
 </organizer></entry>
</section></component>
<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.10" extension="2014-06-09"/>
 <code code="18776-5" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><procedure classCode="PROC" moodCode="RQO">
  <templateId root="2.16.840.1.113883.10.20.22.4.41" extension="2014-06-09"/>
  <id root="9.9.9" extension="plan1"/>
  <code code="73761001" codeSystem="2.16.840.1.113883.6.96"/>
 </procedure></entry>
</section></component>
<component><section>
 <templateId root="Jane Roe 1980-01-01"/>
 <code code="Jane Roe" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><act classCode="ACT" moodCode="EVN">
  <templateId root="MRN 998877"/>
 </act></entry>
</section></component>`

// TestSkippedNamesSectionAndTemplate: every entry left unconverted is
// counted under its section's LOINC code and its own template, and a
// templateId root or code that is not an OID or a LOINC code never
// reaches a key (keys are logged).
func TestSkippedNamesSectionAndTemplate(t *testing.T) {
	_, res := convertReview(t, reviewDoc("SKIP1", "SKIP1", "", skippedSections))
	want := map[string]int{
		"10157-6 organizer 2.16.840.1.113883.10.20.22.4.45": 1,
		"section non-OID act non-OID":                       1,
	}
	for k, n := range want {
		if res.Skipped[k] != n {
			t.Errorf("Skipped[%q] = %d, want %d (all: %v)", k, res.Skipped[k], n, res.Skipped)
		}
	}
	planned := 0
	for k, n := range res.Skipped {
		if strings.HasPrefix(k, "18776-5 ") {
			planned += n
		}
		for _, phi := range []string{"Jane", "Roe", "998877", "MRN"} {
			if strings.Contains(k, phi) {
				t.Errorf("key %q carries document text %q", k, phi)
			}
		}
	}
	if planned != 1 {
		t.Errorf("plan of treatment entries skipped = %d, want 1 (all: %v)", planned, res.Skipped)
	}
}
