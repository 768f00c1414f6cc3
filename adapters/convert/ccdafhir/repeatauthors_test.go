package ccdafhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestRepeatedAuthorsLinear: an author described again (a Practitioner
// already made) was found by scanning the document's Practitioners, for
// each entry it wrote: work growing with entries times Practitioners,
// tens of thousands of each in a 32 MiB document. The entries looked at
// must grow with the document; the Practitioner named first by its id
// alone still gets its name from the later description.
func TestRepeatedAuthorsLinear(t *testing.T) {
	const n = 2000
	entry := func(ext, author string) string {
		return fmt.Sprintf(`<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="9.9.9" extension="%s"/>
  <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><value xsi:type="CD" code="1" codeSystem="2.16.840.1.113883.6.96"/>
  <author><time value="20240101"/><assignedAuthor>%s</assignedAuthor></author>
 </observation></entry>
`, ext, author)
	}
	var ents strings.Builder
	// Named by id alone first, described by the last entry.
	ents.WriteString(entry("first", `<id root="7.7.7" extension="z"/>`))
	for i := range n {
		ents.WriteString(entry(fmt.Sprint("p", i), fmt.Sprintf(`<id root="7.7.7" extension="x%d"/><assignedPerson><name><family>F%d</family></name></assignedPerson>`, i, i)))
	}
	for i := range n {
		ents.WriteString(entry(fmt.Sprint("q", i), fmt.Sprintf(`<id root="7.7.7" extension="x%d"/><assignedPerson><name><family>F%d</family></name></assignedPerson>`, n-1, n-1)))
	}
	ents.WriteString(entry("last", `<id root="7.7.7" extension="z"/><assignedPerson><name><family>Zed</family></name></assignedPerson>`))
	looks := 0
	countEntryLooks = func() { looks++ }
	defer func() { countEntryLooks = nil }()
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", strings.Replace(problemSection, `<entry>`, ents.String()+`<entry>`, 1)))
	if limit := 20 * n; looks > limit {
		t.Errorf("%d entries by %d authors: %d entries looked at, want at most %d", 2*n+2, n+1, looks, limit)
	}
	for _, r := range got["Practitioner"] {
		p := r.(*fhir.Practitioner)
		for _, id := range p.Identifier {
			if id.Value == "z" && (len(p.Name) == 0 || p.Name[0].Family != "Zed") {
				t.Errorf("Practitioner z named %+v, want Zed", p.Name)
			}
		}
	}
}
