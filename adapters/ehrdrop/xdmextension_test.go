package ehrdrop

import (
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
)

// A uniqueId written root^extension (ITI TF-3: "OID^extension", as a
// C-CDA's id becomes one) is filed as masterIdentifier system
// urn:oid:<root>, value <extension>. Two senders numbering their
// documents the same way under their own roots (1.2.840.99999.7^DOC-1,
// 1.2.840.88888.7^DOC-1) who send the same PDF (a form both give out)
// send two documents, for two patients; the unit dedup took the second
// for the first, keyed by the extension alone, and it never reached the
// exchange. The document's id in the dedup key (and in the audit trail)
// is the whole uniqueId.
func TestZipXDMUniqueIDWithExtension(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	first := pdfEntry()
	first.uniqueID = "1.2.840.99999.7^DOC-1"
	second := pdfEntry()
	second.uniqueID = "1.2.840.88888.7^DOC-1"
	second.patientID = "MRN-9^^^&2.16.840.1.113883.3.888.1&ISO"
	for name, e := range map[string]xdmEntry{"first.zip": first, "second.zip": second} {
		copyIn(t, dir, name, buildZip(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
			zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260301090000", e)},
			zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", referralPDF},
		))
		settled(t, s, name, false)
	}
	var systems []string
	for _, it := range q.all() {
		if it.Attrs["format"] != xdmfhir.Format {
			continue
		}
		d := entryOf(t, it.Body, "DocumentReference")["resource"]
		if s, _ := at(d, "masterIdentifier", "system").(string); s != "" {
			systems = append(systems, s)
		}
	}
	if len(systems) != 2 {
		t.Fatalf("queued the PDF under %v, want under both senders' roots", systems)
	}
	if systems[0] == systems[1] {
		t.Errorf("both bundles under %s", systems[0])
	}
}
