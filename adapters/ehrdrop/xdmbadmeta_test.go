package ehrdrop

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestZipXDMMetadataUnreadable: a METADATA.XML that is there but cannot
// be read (damaged, cut short) was passed over as if the subset had
// none, its files sniffed and sent: a C-CDA the sender labelled R there
// went out without the label, past exchange.hold, and without its hash
// checked. The subset's files are not sent; the error names METADATA.XML
// and why, and each file.
func TestZipXDMMetadataUnreadable(t *testing.T) {
	ccda, err := os.ReadFile(ccdaProblem)
	if err != nil {
		t.Fatal(err)
	}
	conf := [3]string{"R", "2.16.840.1.113883.5.25", "restricted"}
	md := metadataXMLOf("20260305090000", xdmEntry{xdmDoc: xdmDoc{"DOC0001.XML", "text/xml", "1.2.840.99999.9.1"}, confidential: conf})
	cut := md[:len(md)-60] // the end of the document lost
	pkg := buildZip(t, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", cut},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", ccda},
	)
	pipe, q := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	err = src.consumeZip(context.Background(), adapters.Raw{Name: "cut.zip", Body: pkg, Meta: map[string]string{}})
	if n := len(q.all()); n != 0 {
		t.Errorf("queued %d bundles of a subset whose METADATA.XML (its labels) could not be read", n)
	}
	if err == nil || !queue.IsPermanent(err) {
		t.Fatalf("err %v, want the archive refused", err)
	}
	for _, want := range []string{
		"cut.zip: IHE_XDM/SUBSET01/METADATA.XML: cannot be read (XML syntax error",
		"cut.zip: IHE_XDM/SUBSET01/DOC0001.XML: not converted",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
