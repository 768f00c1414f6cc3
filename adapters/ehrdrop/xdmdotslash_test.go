package ehrdrop

import (
	"context"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
)

// An XDM package zipped from inside its folder by bsdtar (Windows'
// built-in tar.exe: tar -a -cf package.zip .), which names every entry
// from "./" (./IHE_XDM/SUBSET01/DOC0001.XML), is the same package: its
// documents were looked for at the URIs METADATA.XML gives, joined to
// a subset path cleaned of its "./", and not found, so each was named
// as listed but missing while the C-CDA itself, a file METADATA.XML
// then did not place, was sniffed and sent without the labels the
// package gives it (restricted, past exchange.hold), and the PDF
// refused as of no format ferry converts.
func TestZipXDMDotSlashNames(t *testing.T) {
	conf := [3]string{"R", "2.16.840.1.113883.5.25", "restricted"}
	pkg := buildZip(t, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC),
		zipFile{"./", nil},
		zipFile{"./IHE_XDM/", nil},
		zipFile{"./IHE_XDM/SUBSET01/", nil},
		zipFile{"./INDEX.HTM", []byte("<html><body>Documents</body></html>")},
		zipFile{"./README.TXT", []byte("Sent via Direct.")},
		zipFile{"./IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260305090000",
			xdmEntry{xdmDoc: xdmDoc{"DOC0001.XML", "text/xml", "1.2.840.99999.9.1"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO", confidential: conf},
			xdmEntry{xdmDoc: xdmDoc{"DOC0002.PDF", "application/pdf", "1.2.840.99999.9.2"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO"})},
		zipFile{"./IHE_XDM/SUBSET01/DOC0001.XML", readFile(t, ccdaProblem)},
		zipFile{"./IHE_XDM/SUBSET01/DOC0002.PDF", []byte("%PDF-1.4\n%%EOF\n")},
	)
	pipe, q := newPipeline(t)
	rec := &recorder{next: pipe}
	src := &Source{next: rec, zip: defaultZipLimits, maxBody: 64 << 20}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "dotted.zip", Body: pkg, Meta: map[string]string{}}); err != nil {
		t.Errorf("%v; want the package accepted", err)
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
