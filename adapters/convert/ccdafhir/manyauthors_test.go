package ccdafhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestAuthorsByIDLinear: an author given by its id alone (CONF:1098-31473)
// is the header person or Practitioner carrying that id, and byID found
// it by going through every header person (mapping each one's ids
// anew) and every Practitioner of the document for each such author:
// work growing with their product, and a document within the 32 MiB
// limit holds tens of thousands of each (4,000 of both took 21 s). The
// people looked at must grow with the document; an author named by id
// still refers to the header's author with that id.
func TestAuthorsByIDLinear(t *testing.T) {
	const n = 1000
	var hdr, ents strings.Builder
	for i := range n {
		fmt.Fprintf(&hdr, `<author><time value="20240101"/><assignedAuthor><id root="7.7.7" extension="a%d"/>
  <assignedPerson><name><given>G</given><family>F%d</family></name></assignedPerson></assignedAuthor></author>
`, i, i)
	}
	for i := range n {
		fmt.Fprintf(&ents, `<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="9.9.9" extension="p%d"/>
  <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><value xsi:type="CD" code="1%d" codeSystem="2.16.840.1.113883.6.96"/>
  <author><time value="20240101"/><assignedAuthor><id root="7.7.7" extension="x%d"/></assignedAuthor></author>
 </observation></entry>
`, i, i, i)
	}
	// The last problem's author is the header's last author, by id.
	ents.WriteString(`<entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.4"/><id root="9.9.9" extension="last"/>
  <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><value xsi:type="CD" code="2" codeSystem="2.16.840.1.113883.6.96"/>
  <author><time value="20240101"/><assignedAuthor><id root="7.7.7" extension="a` + fmt.Sprint(n-1) + `"/></assignedAuthor></author>
 </observation></entry>
`)
	sec := strings.Replace(problemSection, `<entry>`, ents.String()+`<entry>`, 1)
	doc := strings.Replace(reviewDoc("d1", "s1", "", sec), `<component><structuredBody>`, hdr.String()+`<component><structuredBody>`, 1)
	looks := 0
	countPeopleLooks = func() { looks++ }
	defer func() { countPeopleLooks = nil }()
	got, _ := convertReview(t, doc)
	if limit := 20 * n; looks > limit {
		t.Errorf("%d authors by id, %d in the header: byID looked at %d people, want at most %d", n+1, n, looks, limit)
	}
	names := map[string]string{}
	for _, r := range got["Practitioner"] {
		p := r.(*fhir.Practitioner)
		if len(p.Name) > 0 {
			names["Practitioner/"+p.ID] = p.Name[0].Family
		}
	}
	for _, r := range got["Condition"] {
		c := r.(*fhir.Condition)
		if len(c.Identifier) == 0 || c.Identifier[0].Value != "last" {
			continue
		}
		if c.Recorder == nil || names[c.Recorder.Reference] != fmt.Sprint("F", n-1) {
			t.Fatalf("recorder %+v (%q), want the header's author F%d", c.Recorder, names[refOr(c.Recorder)], n-1)
		}
		return
	}
	t.Fatal("no Condition of the last problem")
}

func refOr(r *fhir.Reference) string {
	if r == nil {
		return ""
	}
	return r.Reference
}
