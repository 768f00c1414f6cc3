package ccdafhir

import (
	"fmt"
	"strings"
	"testing"
)

// TestVisitIDsLinear: whether an Encounter Activity is the header's visit
// was told by comparing each of its ids with each of the
// encompassingEncounter's, for every activity: work growing with the
// header's ids times the activities' (a 32 MiB document holds about a
// million ids). The comparisons must grow with the ids; the activity
// with the visit's id still fills in the header's Encounter.
func TestVisitIDsLinear(t *testing.T) {
	const n = 1000
	var ids, acts strings.Builder
	for i := range n {
		fmt.Fprintf(&ids, `<id root="9.9.9" extension="h%d"/>`, i)
		fmt.Fprintf(&acts, `<entry><encounter classCode="ENC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.49" extension="2015-08-01"/>
  <id root="9.9.9" extension="a%d"/><code code="AMB" codeSystem="2.16.840.1.113883.5.4"/>
  <effectiveTime value="20240101"/></encounter></entry>
`, i)
	}
	doc := sameEncounterDoc()
	doc = strings.Replace(doc, `<encompassingEncounter><id root="9.9.9" extension="enc1"/>`, `<encompassingEncounter>`+ids.String()+`<id root="9.9.9" extension="enc1"/>`, 1)
	doc = strings.Replace(doc, `<entry><encounter`, acts.String()+`<entry><encounter`, 1)
	checks := 0
	countEncIDChecks = func() { checks++ }
	defer func() { countEncIDChecks = nil }()
	got, _ := convertReview(t, doc)
	if limit := 20 * n; checks > limit {
		t.Errorf("%d activities, %d header ids: %d ids compared, want at most %d", n+1, n+1, checks, limit)
	}
	if len(got["Encounter"]) != n+1 {
		t.Errorf("%d Encounters, want %d (the activity of the visit is the header's)", len(got["Encounter"]), n+1)
	}
}
