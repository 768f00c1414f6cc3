package ehrdrop

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A C-CDA (or any document ferry converts) whose bytes are not the ones
// METADATA.XML's hash or size describes is refused as a PDF is: the
// package was damaged or altered after it was made, and README promises
// failed/ naming "one whose size or SHA-1 is not the one METADATA.XML
// gives". It was converted and the package went to done/.
func TestZipXDMConvertedDocumentHashMismatch(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	ccda := readFile(t, ccdaProblem)
	sum := sha1.Sum(ccda)
	pkg := func(hash, size string) []byte {
		return buildZip(t, time.Now(),
			zipFile{"INDEX.HTM", []byte("<html><body>Documents</body></html>")},
			zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260301090000",
				xdmEntry{xdmDoc: xdmDoc{"DOC0001.XML", "text/xml", "1.2.840.99999.7.1"}, patientID: "MRN-7^^^&2.16.840.1.113883.3.999.1&ISO", hash: hash, size: size},
				pdfEntry(),
			)},
			zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", ccda},
			zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", referralPDF},
		)
	}
	bad := strings.Repeat("ab", 20)
	copyIn(t, dir, "altered.zip", pkg(bad, ""))
	reason := settled(t, s, "altered.zip", true)
	for _, want := range []string{
		"1 of 2 documents accepted",
		"altered.zip: IHE_XDM/SUBSET01/DOC0001.XML: not converted: METADATA.XML gives SHA-1 hash " + bad + " but the document's is " + hex.EncodeToString(sum[:]),
	} {
		if !strings.Contains(reason, want) {
			t.Errorf(".error.txt lacks %q:\n%s", want, reason)
		}
	}
	if got := len(q.all()); got != 1 {
		t.Errorf("queued %d bundles, want the PDF's one only", got)
	}

	copyIn(t, dir, "short.zip", pkg("", strconv.Itoa(len(ccda)+7)))
	if reason := settled(t, s, "short.zip", true); !strings.Contains(reason, "DOC0001.XML: not converted: METADATA.XML gives size "+strconv.Itoa(len(ccda)+7)) {
		t.Errorf(".error.txt:\n%s", reason)
	}

	// Right hash and size: converted.
	copyIn(t, dir, "good.zip", pkg(hex.EncodeToString(sum[:]), strconv.Itoa(len(ccda))))
	settled(t, s, "good.zip", false)
}
