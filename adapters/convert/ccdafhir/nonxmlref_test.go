package ccdafhir

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// An unstructured document whose nonXMLBody refers to its content by a
// file name (<reference value="scan.pdf"/>, a file that came beside the
// C-CDA, never to the exchange) gave a second content whose attachment.url
// was that bare name. At the exchange a relative url resolves against its
// own base ([base]/scan.pdf), where nothing is: the DocumentReference
// pointed readers at content that does not exist. As the HL7 v2 converter
// does for an RP pointer, only an absolute URL is kept as one; the
// document itself (the first content, the C-CDA with its reference) is
// still attached.
func TestNonXMLBodyRelativeReference(t *testing.T) {
	for ref, wantURL := range map[string]string{
		"scan.pdf":                            "",
		"../attachments/scan.pdf":             "",
		"https://ehr.example.org/docs/7.pdf":  "https://ehr.example.org/docs/7.pdf",
		"urn:uuid:0f8fad5b-d9cb-469f-a165-70": "urn:uuid:0f8fad5b-d9cb-469f-a165-70",
	} {
		urls := nonXMLContentURLs(t, ref)
		for _, v := range urls {
			if u, err := url.Parse(v); err != nil || !u.IsAbs() {
				t.Errorf("reference %q: attachment.url %q is not absolute: it names nothing at the exchange", ref, v)
			}
		}
		if wantURL != "" && (len(urls) != 1 || urls[0] != wantURL) {
			t.Errorf("reference %q: content urls %q, want [%s]", ref, urls, wantURL)
		}
	}
}

// nonXMLContentURLs converts the unstructured test document with its
// nonXMLBody referring to ref, checks that the C-CDA itself is the first
// content, and returns the attachment URLs of the contents after it.
func nonXMLContentURLs(t *testing.T, ref string) []string {
	t.Helper()
	raw, err := os.ReadFile("../../../testdata/convert/ccda-unstructured/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	body := `<text mediaType="application/pdf" representation="B64">
        JVBERi0xLjQKMSAwIG9iajw8Pj5lbmRvYmoKdHJhaWxlcjw8Pj4KJSVFT0YK
      </text>`
	if !strings.Contains(string(raw), body) {
		t.Fatal("test document changed: nonXMLBody text not found")
	}
	doc := strings.Replace(string(raw), body, `<text mediaType="application/pdf"><reference value="`+ref+`"/></text>`, 1)
	b, _, err := ConvertBytes([]byte(doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dr *fhir.DocumentReference
	for _, e := range b.Entry {
		if d, ok := e.Resource.(*fhir.DocumentReference); ok {
			dr = d
		}
	}
	if dr == nil || len(dr.Content) == 0 || dr.Content[0].Attachment.ContentType != "text/xml" {
		t.Fatalf("%s: the C-CDA itself is not the first content: %+v", ref, dr)
	}
	var urls []string
	for _, c := range dr.Content[1:] {
		urls = append(urls, c.Attachment.URL)
	}
	return urls
}
