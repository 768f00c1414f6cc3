package ehrdrop

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// TestZipXDMMutualReplacementIgnored: a package whose two documents each
// replace the other (an RPLC both ways, a writer's bug) had both marked
// superseded at the exchange, leaving no current version. Which one is
// current cannot be told, so neither association is taken: both are
// filed current, and no supersede batch is queued.
func TestZipXDMMutualReplacementIgnored(t *testing.T) {
	first := pdfEntry()
	second := pdfEntry()
	sum := sha1.Sum(correctedPDF)
	second.xdmDoc = xdmDoc{"DOC0003.PDF", "application/pdf", "1.2.840.99999.7.3"}
	second.hash, second.size = hex.EncodeToString(sum[:]), strconv.Itoa(len(correctedPDF))
	md := string(metadataXMLOf("20260305090000", first, second))
	assoc := `  <rim:Association id="as01" associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="Document02" targetObject="Document01" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"/>
  <rim:Association id="as02" associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="Document01" targetObject="Document02" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"/>
`
	md = strings.Replace(md, " </rim:RegistryObjectList>", assoc+" </rim:RegistryObjectList>", 1)
	pkg := buildZip(t, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(md)},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", referralPDF},
		zipFile{"IHE_XDM/SUBSET01/DOC0003.PDF", correctedPDF},
	)
	pipe, q := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "two.zip", Body: pkg, Meta: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	docs := 0
	for _, it := range q.all() {
		body := string(it.Body)
		if strings.Contains(body, `"PATCH"`) {
			t.Errorf("a supersede batch was queued: %s", body)
		}
		if strings.Contains(body, `"DocumentReference"`) {
			docs++
			if strings.Contains(body, `"relatesTo"`) || strings.Contains(body, `"superseded"`) {
				t.Errorf("a document of the mutual pair relates or is superseded: %s", body)
			}
		}
	}
	if docs != 2 {
		t.Errorf("%d bundles with a DocumentReference, want 2", docs)
	}
}
