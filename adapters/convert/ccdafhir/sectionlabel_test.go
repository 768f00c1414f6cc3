package ccdafhir

import (
	"bytes"
	"testing"
)

// A section of a normal document may be restricted on its own (CDA R2
// Section.confidentialityCode): the document's high-water mark is then R,
// and the Bundle, the DocumentReference and the resources carry it
// (STANDARDS.md §7: never downgrade a label), so that a policy that holds
// R holds the document.
func TestRestrictedSectionRaisesTheHighWaterMark(t *testing.T) {
	raw := readCase(t, "ccda-problem")
	const title = `<title>Problems</title>`
	if !bytes.Contains(raw, []byte(title)) {
		t.Fatal("test document has no Problems title")
	}
	doc := bytes.Replace(raw, []byte(`<text><paragraph>narrative is skipped</paragraph></text>`),
		[]byte(`<text><paragraph>narrative is skipped</paragraph></text><confidentialityCode code="R" codeSystem="2.16.840.1.113883.5.25"/>`), 1)
	if bytes.Equal(doc, raw) {
		t.Fatal("no section text to put the code after")
	}
	b, _, err := ConvertBytes(doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Meta == nil || len(b.Meta.Security) == 0 || b.Meta.Security[0].Code != "R" {
		t.Errorf("bundle labels %+v, want R", b.Meta)
	}
	for _, e := range b.Entry {
		if got := confidentiality(t, e.Resource); got != "R" {
			t.Errorf("%T labelled %q, want R", e.Resource, got)
		}
	}
}
