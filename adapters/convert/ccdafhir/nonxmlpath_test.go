package ccdafhir

import (
	"os"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// A nonXMLBody reference that names a file on the sender's own disk or
// share (a Windows path, which parses as a URL of scheme "c", or a file:
// URL) is no more reachable from the exchange than a bare file name: it
// gives no content of its own, as a relative reference does, and the
// C-CDA itself stays the first content.
func TestNonXMLBodyLocalPathReference(t *testing.T) {
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
	for _, ref := range []string{`C:\scans\scan.pdf`, `d:/exports/scan.pdf`, `file:///C:/scans/scan.pdf`, `file://fileserver/scans/scan.pdf`} {
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
		for _, c := range dr.Content[1:] {
			t.Errorf("reference %q: content with attachment.url %q, a path on the sender's disk the exchange cannot reach", ref, c.Attachment.URL)
		}
	}
}
