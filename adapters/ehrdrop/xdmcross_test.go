package ehrdrop

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// An RPLC Association whose target is a document of the same package
// filed for another patient crosses patients: XDS refuses such a
// replacement (the replaced entry must be the same patient's), and
// applying it would mark the other patient's document superseded at the
// exchange. Both documents are filed, current, and no supersede batch
// is queued; the same association between two documents of one patient
// still supersedes.
func TestZipXDMReplacementAcrossPatientsIgnored(t *testing.T) {
	for _, tc := range []struct {
		name       string
		otherMRN   string
		supersedes bool
	}{
		{"other patient", "MRN-8^^^&2.16.840.1.113883.3.999.1&ISO", false},
		{"same patient", "MRN-7^^^&2.16.840.1.113883.3.999.1&ISO", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := pdfEntry()
			second := pdfEntry()
			sum := sha1.Sum(correctedPDF)
			second.xdmDoc = xdmDoc{"DOC0003.PDF", "application/pdf", "1.2.840.99999.7.3"}
			second.hash, second.size = hex.EncodeToString(sum[:]), strconv.Itoa(len(correctedPDF))
			second.patientID = tc.otherMRN
			second.sourcePatientID, second.patientInfo = "", nil
			md := string(metadataXMLOf("20260305090000", first, second))
			assoc := fmt.Sprintf(`  <rim:Association id="as01" associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="Document02" targetObject="Document01" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"/>
`)
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
			items := q.all()
			patches := 0
			for _, it := range items {
				if strings.Contains(string(it.Body), `"PATCH"`) {
					patches++
				}
			}
			want := 0
			if tc.supersedes {
				want = 1
			}
			if patches != want {
				t.Fatalf("%d bundles, %d supersede PATCH batches; want %d", len(items), patches, want)
			}
			for _, it := range items {
				if strings.Contains(string(it.Body), `"DocumentReference"`) && !tc.supersedes && strings.Contains(string(it.Body), `"relatesTo"`) {
					t.Errorf("a document relates to another patient's document: %s", it.Body)
				}
			}
		})
	}
}
