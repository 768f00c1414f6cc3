package ehrdrop

import (
	"strings"
	"testing"
	"time"
)

// Two documents of METADATA.XML given the same URI are one file for two
// DocumentEntries, each with its own uniqueId and labels: the second was
// passed over without a word, so one document the sender submitted never
// reached the exchange and the archive still went to done/, and the file
// went out under the first entry's labels, which may be the lower. Which
// entry the file is cannot be told: neither is sent, and .error.txt names
// the file and both uniqueIds.
func TestZipXDMTwoDocumentsOneURI(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	normal := pdfEntry()
	restricted := pdfEntry()
	restricted.uniqueID = "1.2.840.99999.7.3"
	restricted.confidential = [3]string{"R", "2.16.840.1.113883.5.25", "restricted"}
	copyIn(t, dir, "twice.zip", buildZip(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260301090000", normal, restricted)},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", referralPDF},
	))
	report := settled(t, s, "twice.zip", true)
	for _, want := range []string{"DOC0002.PDF", "1.2.840.99999.7.2", "1.2.840.99999.7.3"} {
		if !strings.Contains(report, want) {
			t.Errorf(".error.txt does not name %s:\n%s", want, report)
		}
	}
	if n := len(q.all()); n != 0 {
		t.Errorf("queued %d bundles; the file is neither document for sure, and is not sent", n)
	}
}
