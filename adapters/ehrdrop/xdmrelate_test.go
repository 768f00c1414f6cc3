package ehrdrop

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/ccdafhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/replaced"
)

// oldEntryUUID is the entryUUID the replaced version had in the registry
// its sender keeps; the replacement's Association names it.
const oldEntryUUID = "urn:uuid:0b5c3f7e-6a1d-4c2e-9f0a-1d2e3f4a5b6c"

// correctedPDF is the corrected referral that replaces referralPDF.
var correctedPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Corrected true >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// replacementPackage is an XDM package holding correctedPDF alone
// (uniqueId 1.2.840.99999.7.3) with an Association of type assocType from
// it to oldEntryUUID. withUniqueID adds, as a registry object of its own,
// the ExternalIdentifier that gives the target's uniqueId
// (1.2.840.99999.7.2, referralPDF's in pdfEntry).
func replacementPackage(t *testing.T, assocType string, withUniqueID bool) []byte {
	e := pdfEntry()
	sum := sha1.Sum(correctedPDF)
	e.uniqueID, e.hash, e.size = "1.2.840.99999.7.3", hex.EncodeToString(sum[:]), strconv.Itoa(len(correctedPDF))
	md := string(metadataXMLOf("20260305090000", e))
	var extra strings.Builder
	fmt.Fprintf(&extra, `  <rim:Association id="as01" associationType=%q sourceObject="Document01" targetObject=%q objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"/>
`, assocType, oldEntryUUID)
	if withUniqueID {
		fmt.Fprintf(&extra, `  <rim:ExternalIdentifier id="eiOld" registryObject=%q identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.840.99999.7.2">
   <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
  </rim:ExternalIdentifier>
`, oldEntryUUID)
	}
	md = strings.Replace(md, " </rim:RegistryObjectList>", extra.String()+" </rim:RegistryObjectList>", 1)
	return buildZip(t, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(md)},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", correctedPDF},
	)
}

// A replacement (an ebRIM Association RPLC from the new DocumentEntry to
// the one it replaces) in an XDM package is filed as MHD maps it
// (ConceptMap AssociationTypeVsRelatesTo): the DocumentReference
// relatesTo the replaced document, named by the identifier ferry filed it
// under (its uniqueId as masterIdentifier, else its entryUUID), and a
// batch queued after it marks the replaced DocumentReference superseded,
// as a C-CDA's relatedDocument RPLC does. An appendix, a transform and a
// signature relate the same way but supersede nothing; an association
// type that relates no documents (HasMember) adds nothing.
func TestZipXDMReplacement(t *testing.T) {
	const rfc = "urn:ietf:rfc:3986"
	for _, tc := range []struct {
		assoc      string
		uniqueID   bool
		code       string
		target     string // the target identifier's value (system rfc)
		supersedes bool
	}{
		{"urn:ihe:iti:2007:AssociationType:RPLC", true, "replaces", "urn:oid:1.2.840.99999.7.2", true},
		{"urn:ihe:iti:2007:AssociationType:RPLC", false, "replaces", oldEntryUUID, true},
		{"urn:ihe:iti:2007:AssociationType:XFRM_RPLC", true, "replaces", "urn:oid:1.2.840.99999.7.2", true},
		{"urn:ihe:iti:2007:AssociationType:APND", true, "appends", "urn:oid:1.2.840.99999.7.2", false},
		{"urn:ihe:iti:2007:AssociationType:XFRM", true, "transforms", "urn:oid:1.2.840.99999.7.2", false},
		{"urn:ihe:iti:2007:AssociationType:signs", true, "signs", "urn:oid:1.2.840.99999.7.2", false},
		{"urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember", true, "", "", false},
	} {
		name := tc.assoc[strings.LastIndexByte(tc.assoc, ':')+1:]
		if !tc.uniqueID {
			name += " by entryUUID"
		}
		t.Run(name, func(t *testing.T) {
			pipe, q := newPipeline(t)
			src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
			if err := src.consumeZip(context.Background(), adapters.Raw{Name: "corrected.zip", Body: replacementPackage(t, tc.assoc, tc.uniqueID), Meta: map[string]string{}}); err != nil {
				t.Fatal(err)
			}
			items := q.all()
			want := 1
			if tc.supersedes {
				want = 2
			}
			if len(items) != want {
				t.Fatalf("queued %d bundles, want %d", len(items), want)
			}
			d := entryOf(t, items[0].Body, "DocumentReference")["resource"]
			if at(d, "masterIdentifier", "value") != "urn:oid:1.2.840.99999.7.3" || at(d, "status") != "current" {
				t.Errorf("masterIdentifier %v status %v", at(d, "masterIdentifier"), at(d, "status"))
			}
			rel := at(d, "relatesTo")
			if tc.code == "" {
				if rel != nil {
					t.Errorf("relatesTo %v, want none", rel)
				}
				return
			}
			if at(rel, 0, "code") != tc.code || at(rel, 0, "target", "type") != "DocumentReference" ||
				at(rel, 0, "target", "identifier", "system") != rfc || at(rel, 0, "target", "identifier", "value") != tc.target || at(rel, 1) != nil {
				t.Errorf("relatesTo %v, want %s the DocumentReference identified by %s", rel, tc.code, tc.target)
			}
			if !tc.supersedes {
				return
			}
			sb := items[1]
			if sb.Key != items[0].Key || sb.Attrs[queue.AttrMissingOK] != "true" {
				t.Errorf("supersede batch key %q (document's %q), attrs %v", sb.Key, items[0].Key, sb.Attrs)
			}
			var b struct {
				Type  string
				Entry []struct {
					Resource struct{ ResourceType, ContentType, Data string }
					Request  struct{ Method, URL string }
				}
			}
			if err := json.Unmarshal(sb.Body, &b); err != nil {
				t.Fatal(err)
			}
			wantURL := "DocumentReference?identifier=" + url.QueryEscape(rfc) + "%7C" + url.QueryEscape(tc.target)
			if b.Type != "batch" || len(b.Entry) != 1 || b.Entry[0].Request.Method != "PATCH" || b.Entry[0].Request.URL != wantURL {
				t.Fatalf("supersede batch %s, want one PATCH of %s", sb.Body, wantURL)
			}
		})
	}
}

// A replaced version that arrives after its replacement (packages
// delivered out of order, an old package dropped again) is filed
// superseded, never current, as a C-CDA's is: the pipeline records the
// replacement in the registry of replaced documents and the converter
// reads it. In the usual order the original is filed current and the
// replacement's batch supersedes it. The registry is kept per patient: the
// same uniqueId filed for another patient stays current.
func TestZipXDMReplacedVersionLate(t *testing.T) {
	newPipe := func(t *testing.T) (*Source, *memQueue) {
		reg, err := replaced.Open(filepath.Join(t.TempDir(), replaced.FileName), replaced.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reg.Close() })
		quar, err := pipeline.OpenQuarantine(filepath.Join(t.TempDir(), "quarantine"))
		if err != nil {
			t.Fatal(err)
		}
		docs, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1"})
		if err != nil {
			t.Fatal(err)
		}
		q := &memQueue{}
		pipe := pipeline.New(q, &memSeen{}, quar, map[string]pipeline.Converter{
			FormatCCDA:        pipeline.CCDA{Options: ccdafhir.Options{Replaced: reg.Replaced}},
			FormatXDMDocument: pipeline.XDMDocument{Conv: &xdmfhir.Converter{Docs: docs, Replaced: reg.Replaced}},
		}, nil)
		pipe.SetReplaced(reg)
		return &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}, q
	}
	drop := func(t *testing.T, s *Source, name string, data []byte) {
		t.Helper()
		if err := s.consumeZip(context.Background(), adapters.Raw{Name: name, Body: data, Meta: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
	}
	// statusOf is the status of the DocumentReference filed under
	// uniqueId in the queued bundles.
	statusOf := func(t *testing.T, q *memQueue, uniqueID string) []any {
		t.Helper()
		var out []any
		for _, it := range q.all() {
			if d := entryOf(t, it.Body, "DocumentReference"); d != nil && at(d, "resource", "masterIdentifier", "value") == "urn:oid:"+uniqueID {
				out = append(out, at(d, "resource", "status"))
			}
		}
		return out
	}
	rplc := "urn:ihe:iti:2007:AssociationType:RPLC"

	t.Run("replacement first", func(t *testing.T) {
		for _, withUID := range []bool{true, false} {
			s, q := newPipe(t)
			drop(t, s, "corrected.zip", replacementPackage(t, rplc, withUID))
			// The original's package names its entry by the entryUUID
			// the replacement's Association targets.
			old := strings.Replace(string(metadataXMLOf("20260301090000", pdfEntry())), `id="Document01"`, `id="`+oldEntryUUID+`"`, 1)
			drop(t, s, "original.zip", buildZip(t, time.Now(),
				zipFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(old)}, zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", referralPDF}))
			if got := statusOf(t, q, "1.2.840.99999.7.2"); len(got) != 1 || got[0] != "superseded" {
				t.Errorf("uniqueId given %v: the original arriving after its replacement was filed %v, want superseded", withUID, got)
			}
			if got := statusOf(t, q, "1.2.840.99999.7.3"); len(got) != 1 || got[0] != "current" {
				t.Errorf("the replacement was filed %v", got)
			}
			// Another patient's document with the same uniqueId is not
			// the one replaced.
			// (Other bytes: the pipeline takes the same bytes under the
			// same uniqueId for the same document.)
			otherPDF := append(bytes.Clone(referralPDF), "% other\n"...)
			other := pdfEntry()
			other.patientID = "MRN-8^^^&2.16.840.1.113883.3.999.1&ISO"
			sum := sha1.Sum(otherPDF)
			other.hash, other.size = hex.EncodeToString(sum[:]), strconv.Itoa(len(otherPDF))
			drop(t, s, "other.zip", buildZip(t, time.Now(),
				zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260301090000", other)}, zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", otherPDF}))
			if got := statusOf(t, q, "1.2.840.99999.7.2"); len(got) != 2 || got[1] != "current" {
				t.Errorf("another patient's document was filed %v, want current", got)
			}
		}
	})
	t.Run("original first", func(t *testing.T) {
		s, q := newPipe(t)
		drop(t, s, "direct.zip", directPackage(t, time.Now(), pdfEntry()))
		drop(t, s, "corrected.zip", replacementPackage(t, rplc, true))
		if got := statusOf(t, q, "1.2.840.99999.7.2"); len(got) != 1 || got[0] != "current" {
			t.Errorf("the original was filed %v, want current (the replacement's batch supersedes it)", got)
		}
		items := q.all()
		if last := items[len(items)-1]; last.Attrs[queue.AttrMissingOK] != "true" || !strings.Contains(string(last.Body), `"PATCH"`) {
			t.Errorf("last item %v %s, want the supersede batch", last.Attrs, last.Body)
		}
	})
}

// A C-CDA that an XDM package's METADATA.XML says replaces another
// document (an RPLC Association; its own header has no relatedDocument)
// is converted as if its header said so: its DocumentReference relatesTo
// the replaced document by the target's uniqueId (root^extension as an
// II), and the supersede batch is queued after it, as for a C-CDA's own
// relatedDocument RPLC.
func TestZipXDMReplacementCCDA(t *testing.T) {
	e := xdmEntry{xdmDoc: xdmDoc{"DOC0001.XML", "text/xml", "2.16.840.1.113883.19.5.99999.1^PRB1"}, patientID: "MRN-PRB1^^^&2.16.840.1.113883.19.5.99999.2&ISO"}
	md := strings.Replace(string(metadataXMLOf("20260305090000", e)), " </rim:RegistryObjectList>", `  <rim:Association id="as01" associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="Document01" targetObject="`+oldEntryUUID+`"/>
  <rim:ExternalIdentifier id="eiOld" registryObject="`+oldEntryUUID+`" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="2.16.840.1.113883.19.5.99999.1^PRB0">
   <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
  </rim:ExternalIdentifier>
 </rim:RegistryObjectList>`, 1)
	pipe, q := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "corrected.zip", Meta: map[string]string{}, Body: buildZip(t, time.Now(),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(md)}, zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", readFile(t, ccdaProblem)})}); err != nil {
		t.Fatal(err)
	}
	items := q.all()
	if want := len(aloneBundles(t, ccdaProblem)) + 1; len(items) != want {
		t.Fatalf("queued %d bundles, want the C-CDA's %d and its supersede batch", len(items), want-1)
	}
	var rel any
	for _, it := range items {
		if d := entryOf(t, it.Body, "DocumentReference"); d != nil {
			rel = at(d, "resource", "relatesTo")
		}
	}
	if at(rel, 0, "code") != "replaces" || at(rel, 0, "target", "identifier", "system") != "urn:oid:2.16.840.1.113883.19.5.99999.1" ||
		at(rel, 0, "target", "identifier", "value") != "PRB0" || at(rel, 1) != nil {
		t.Errorf("relatesTo %v, want replaces PRB0", rel)
	}
	last := items[len(items)-1]
	if last.Attrs[queue.AttrMissingOK] != "true" || !strings.Contains(string(last.Body), `"method":"PATCH","url":"DocumentReference/`) {
		t.Errorf("last item %v %s, want the supersede batch", last.Attrs, last.Body)
	}
}
