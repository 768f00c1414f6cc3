package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVitalSignWithoutOwnTime: FHIR R4's vital signs profile, which US
// Core's vital signs derive from, makes effective[x] 1..1 ("Often just a
// dateTime for Vital Signs"), and the Vital Signs Organizer gives the time
// of the readings it groups (C-CDA: its effectiveTime is "the time of the
// vital signs"). A Vital Sign Observation whose own effectiveTime is
// missing or a nullFlavor, as senders write the members of a timed
// organizer, went out without any time and failed the profile; it now
// takes its organizer's.
func TestVitalSignWithoutOwnTime(t *testing.T) {
	for _, own := range []string{``, `<effectiveTime nullFlavor="UNK"/>`} {
		sec := strings.Replace(vitalsSection, `<statusCode code="completed"/>
   <effectiveTime value="20240101"/>`, `<statusCode code="completed"/>
   `+own, 1)
		sec = strings.Replace(sec, `<effectiveTime value="20240101"/>
  <component>`, `<effectiveTime value="20240101093000-0500"/>
  <component>`, 1)
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec))
		found := false
		for _, r := range got["Observation"] {
			o := r.(*fhir.Observation)
			if len(o.HasMember) > 0 {
				continue
			}
			found = true
			if o.EffectiveDateTime != "2024-01-01T09:30:00-05:00" || o.EffectivePeriod != nil {
				t.Errorf("own %q: body weight effective %q %+v, want the organizer's 2024-01-01T09:30:00-05:00", own, o.EffectiveDateTime, o.EffectivePeriod)
			}
		}
		if !found {
			t.Fatalf("own %q: no body weight Observation", own)
		}
	}
}
