package ehrdrop

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
)

// TestZipXDMInAFolder: an XDM package unpacked to look at it and zipped
// again as its folder (Windows' "Send to > Compressed (zipped) folder",
// macOS's Compress) holds IHE_XDM/ one folder down (Package/IHE_XDM/...).
// It was read as an archive of loose files: its C-CDA was sent without
// the labels METADATA.XML gives it (a restricted document as normal,
// which exchange.hold then let through), its PDF and METADATA.XML named
// as files ferry cannot convert, and the archive put in failed/ after
// the C-CDA had gone. Such a package is read as the package it is.
func TestZipXDMInAFolder(t *testing.T) {
	conf := [3]string{"R", "2.16.840.1.113883.5.25", "restricted"}
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	pkg := buildZip(t, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC),
		zipFile{"Package/INDEX.HTM", []byte("<html><body>Documents</body></html>")},
		zipFile{"Package/README.TXT", []byte("Sent via Direct.")},
		zipFile{"Package/IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260305090000",
			xdmEntry{xdmDoc: xdmDoc{"DOC0001.XML", "text/xml", "1.2.840.99999.9.1"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO", confidential: conf},
			xdmEntry{xdmDoc: xdmDoc{"DOC0002.PDF", "application/pdf", "1.2.840.99999.9.2"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO"})},
		zipFile{"Package/IHE_XDM/SUBSET01/DOC0001.XML", readFile(t, ccdaProblem)},
		zipFile{"Package/IHE_XDM/SUBSET01/DOC0002.PDF", pdf},
		zipFile{"Package/IHE_XDM/SUBSET01/CDA.XSL", []byte(`<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"/>`)},
	)
	pipe, q := newPipeline(t)
	rec := &recorder{next: pipe}
	src := &Source{next: rec, zip: defaultZipLimits, maxBody: 64 << 20}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "wrapped.zip", Body: pkg, Meta: map[string]string{}}); err != nil {
		t.Fatalf("%v; want the package accepted", err)
	}
	raws := rec.all()
	if len(raws) != 2 {
		t.Fatalf("%d documents handed on, want 2", len(raws))
	}
	if raws[0].Format != FormatCCDA || raws[0].Meta[xdmfhir.MetaLabels] == "" {
		t.Errorf("C-CDA: format %s, labels %q; want its METADATA.XML labels", raws[0].Format, raws[0].Meta[xdmfhir.MetaLabels])
	}
	if raws[1].Format != FormatXDMDocument {
		t.Errorf("PDF: format %s, want %s", raws[1].Format, FormatXDMDocument)
	}
	if len(q.all()) == 0 {
		t.Error("nothing queued")
	}
}
