package ccdafhir

import "testing"

// A nonXMLBody reference that names a file on the sender's own disk or
// share (a Windows path, which parses as a URL of scheme "c", or a file:
// URL) is no more reachable from the exchange than a bare file name: it
// gives no content of its own, as a relative reference does, and the
// C-CDA itself stays the first content.
func TestNonXMLBodyLocalPathReference(t *testing.T) {
	for _, ref := range []string{`C:\scans\scan.pdf`, `d:/exports/scan.pdf`, `file:///C:/scans/scan.pdf`, `file://fileserver/scans/scan.pdf`} {
		for _, u := range nonXMLContentURLs(t, ref) {
			t.Errorf("reference %q: content with attachment.url %q, a path on the sender's disk the exchange cannot reach", ref, u)
		}
	}
}
