package ccdafhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVisitPerformersLinear: an Encounter Activity of the header's visit
// fills in the header's Encounter, and each of its participants was
// compared (reflect.DeepEqual) with every participant the Encounter had
// already: work growing with the square of the visit's performers, a
// few hundred thousand of which fit in a 32 MiB document. The
// comparisons must grow with the performers; each is still kept once.
func TestVisitPerformersLinear(t *testing.T) {
	const n = 1000
	var perf strings.Builder
	for i := range n {
		fmt.Fprintf(&perf, `<performer><assignedEntity><id root="1.2.3.77" extension="perf%d"/>
   <assignedPerson><name><family>F%d</family></name></assignedPerson></assignedEntity></performer>
`, i, i)
	}
	doc := sameEncounterDoc()
	doc = strings.Replace(doc, `<performer>`, perf.String()+perf.String()+`<performer>`, 1)
	checks := 0
	countMergeChecks = func() { checks++ }
	defer func() { countMergeChecks = nil }()
	got, _ := convertReview(t, doc)
	if limit := 20 * n; checks > limit {
		t.Errorf("%d performers twice: %d participants compared, want at most %d", n, checks, limit)
	}
	if len(got["Encounter"]) != 1 {
		t.Fatalf("%d Encounters, want the header's alone", len(got["Encounter"]))
	}
	if p := got["Encounter"][0].(*fhir.Encounter).Participant; len(p) != n+1 {
		t.Errorf("%d participants, want %d", len(p), n+1)
	}
}
