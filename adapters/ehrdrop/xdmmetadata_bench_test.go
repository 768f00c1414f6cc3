package ehrdrop

import (
	"archive/zip"
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkXDMMetadataRelations reads a METADATA.XML of 2,000 documents
// each replacing an earlier version (2,000 RPLC associations): the
// documents' relations are found by their entryUUID, not by going through
// every association for every document (which cost their product).
func BenchmarkXDMMetadataRelations(b *testing.B) {
	const n = 2000
	entries := make([]xdmEntry, n)
	for i := range entries {
		e := pdfEntry()
		e.uniqueID = fmt.Sprintf("1.2.840.99999.8.%d", i+1)
		entries[i] = e
	}
	md := string(metadataXMLOf("20260305090000", entries...))
	var extra strings.Builder
	for i := range n {
		fmt.Fprintf(&extra, "  <rim:Association id=\"as%d\" associationType=\"urn:ihe:iti:2007:AssociationType:RPLC\" sourceObject=\"Document%02d\" targetObject=\"urn:uuid:00000000-0000-4000-8000-%012d\"/>\n", i, i+1, i)
	}
	md = strings.Replace(md, " </rim:RegistryObjectList>", extra.String()+" </rim:RegistryObjectList>", 1)
	data := buildZip(b, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC), zipFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(md)})
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		docs, err := readXDMMetadata(zr.File[0])
		if err != nil {
			b.Fatal(err)
		}
		if len(docs) != n || len(docs[n-1].entry.Related) != 1 {
			b.Fatalf("%d documents, the last with %d relations; want %d and 1", len(docs), len(docs[n-1].entry.Related), n)
		}
	}
}
