package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVitalSignBaseCodes: FHIR R4's oxygen saturation profile fixes a
// coding 2708-6 and its body temperature profile 8310-5, the more
// specific codes C-CDA's Vital Sign Result Type value set uses (2710-2
// and 59408-5, as HL7's CCD.xml in the corpus has, and 8331-1, oral)
// beside it (observation-vitalsigns.html, "Using other codes"); US Core
// Pulse Oximetry wants 59408-5 and 2708-6 both. The oxygen saturation
// went out with 2710-2 alone, which no vital signs profile takes and a
// search for code 2708-6 does not find.
func TestVitalSignBaseCodes(t *testing.T) {
	for src, want := range map[string]string{
		"2710-2":  "2708-6",
		"59408-5": "2708-6",
		"8331-1":  "8310-5",
		"8867-4":  "8867-4", // the profile's code already
	} {
		sec := strings.Replace(vitalsSection, `code="3141-9" codeSystem="2.16.840.1.113883.6.1" displayName="Body weight Measured"`,
			`code="`+src+`" codeSystem="2.16.840.1.113883.6.1"`, 1)
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
		found := false
		for _, r := range got["Observation"] {
			o := r.(*fhir.Observation)
			if len(o.HasMember) > 0 {
				continue
			}
			var codes []string
			for _, c := range o.Code.Coding {
				codes = append(codes, c.Code)
			}
			found = true
			if len(codes) == 0 || codes[0] != want || !strings.Contains(strings.Join(codes, " "), src) || want == src && len(codes) != 1 {
				t.Errorf("%s: codes %v, want %s first and the source's %s", src, codes, want, src)
			}
		}
		if !found {
			t.Errorf("%s: no vital sign observation", src)
		}
	}
}
