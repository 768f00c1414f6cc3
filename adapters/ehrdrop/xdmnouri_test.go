package ehrdrop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
)

// TestZipXDMDocumentWithoutURI: one ExtrinsicObject of METADATA.XML
// without a URI slot cost the whole subset its metadata, so a C-CDA the
// sender labelled R there went out without the label, past a policy that
// holds R. The other documents keep their metadata; the one without a
// URI is named in the archive's error, and a file METADATA.XML does not
// place, which may be that document, is not sent without it.
func TestZipXDMDocumentWithoutURI(t *testing.T) {
	ccda, err := os.ReadFile(ccdaProblem)
	if err != nil {
		t.Fatal(err)
	}
	conf := [3]string{"R", "2.16.840.1.113883.5.25", "restricted"}
	doc := xdmEntry{xdmDoc: xdmDoc{"DOC0001.XML", "text/xml", "1.2.840.99999.9.1"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO", confidential: conf}
	lost := xdmEntry{xdmDoc: xdmDoc{"NOURI", "application/pdf", "1.2.840.99999.9.2"}, patientID: doc.patientID, confidential: conf}
	md := strings.Replace(string(metadataXMLOf("20260305090000", doc, lost)),
		`   <rim:Slot name="URI"><rim:ValueList><rim:Value>NOURI</rim:Value></rim:ValueList></rim:Slot>`+"\n", "", 1)
	if strings.Contains(md, "NOURI") {
		t.Fatal("the URI slot is still there")
	}
	pkg := buildZip(t, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(md)},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", ccda},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.XML", ccda},
	)
	pipe, q := newPipeline(t)
	held, err := pipeline.OpenHeld(filepath.Join(t.TempDir(), "held"))
	if err != nil {
		t.Fatal(err)
	}
	pipe.SetPolicy(pipeline.Policy{Hold: []string{"R"}}, held, nil)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	err = src.consumeZip(context.Background(), adapters.Raw{Name: "nouri.zip", Body: pkg, Meta: map[string]string{}})
	if n := len(q.all()); n != 0 {
		t.Errorf("queued %d bundles; the C-CDA labelled R in METADATA.XML went out past the hold", n)
	}
	if ids, _ := held.List(); len(ids) != 1 {
		t.Errorf("held %d bundles, want DOC0001.XML's", len(ids))
	}
	if err == nil || !queue.IsPermanent(err) {
		t.Fatalf("err %v, want the archive refused in part", err)
	}
	for _, want := range []string{
		"nouri.zip: IHE_XDM/SUBSET01/METADATA.XML: a document (uniqueId 1.2.840.99999.9.2) without a URI slot",
		"nouri.zip: IHE_XDM/SUBSET01/DOC0002.XML: not converted",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
