package ehrdrop

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
)

// memQueue keeps what the pipeline queues.
type memQueue struct {
	mu    sync.Mutex
	items []*queue.Item
}

func (q *memQueue) Put(_ context.Context, it *queue.Item) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := *it
	c.Body = bytes.Clone(it.Body)
	q.items = append(q.items, &c)
	return nil
}

func (q *memQueue) all() []*queue.Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]*queue.Item(nil), q.items...)
}

// memSeen is the pipeline's unit dedup, in memory.
type memSeen struct {
	mu sync.Mutex
	m  map[[32]byte]bool
}

func (s *memSeen) Seen(k [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

func (s *memSeen) Remember(k [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[[32]byte]bool{}
	}
	s.m[k] = true
	return nil
}

// newPipeline is the gateway's pipeline for EHR drops with an in-memory
// queue: the real converters, quarantine and unit dedup.
func newPipeline(t *testing.T) (*pipeline.Pipeline, *memQueue) {
	t.Helper()
	quar, err := pipeline.OpenQuarantine(filepath.Join(t.TempDir(), "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	q := &memQueue{}
	v2 := pipeline.HL7{Conv: &v2fhir.Converter{}}
	docs, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1"})
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.New(q, &memSeen{}, quar, map[string]pipeline.Converter{
		FormatCCDA:        pipeline.CCDA{},
		FormatHL7v2Batch:  v2,
		FormatFHIRJSON:    pipeline.FHIRJSON{},
		FormatFHIRNDJSON:  pipeline.FHIRJSON{},
		FormatXDMDocument: pipeline.XDMDocument{Conv: &xdmfhir.Converter{Docs: docs}},
	}, nil), q
}

// recorder notes every Raw on its way to next.
type recorder struct {
	next adapters.Consumer
	mu   sync.Mutex
	raws []adapters.Raw
}

func (r *recorder) Consume(ctx context.Context, in adapters.Raw) error {
	r.mu.Lock()
	r.raws = append(r.raws, in)
	r.mu.Unlock()
	return r.next.Consume(ctx, in)
}

func (r *recorder) all() []adapters.Raw {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]adapters.Raw(nil), r.raws...)
}

type zipFile struct {
	name string
	data []byte
}

// buildZip writes files into an archive, deflated, stamped with at.
func buildZip(t testing.TB, at time.Time, files ...zipFile) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, f := range files {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: at})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// xdmDoc is one ExtrinsicObject of a test METADATA.XML; a URI with '|'
// is written split into values "1|…", "2|…" at each '|'.
type xdmDoc struct{ uri, mime, uniqueID string }

// xdmEntry is an xdmDoc with the rest of a DocumentEntry's metadata; empty
// fields are left out of METADATA.XML.
type xdmEntry struct {
	xdmDoc
	patientID, sourcePatientID string   // CX
	patientInfo                []string // sourcePatientInfo values, "PID-5|…"
	title, comments            string
	creationTime, language     string
	hash, size                 string
	typeCode, classCode        [3]string // code, codingScheme, display
	formatCode, confidential   [3]string
	authorInstitution          string    // XON
	authorPerson               string    // XCN
	serviceStart, serviceStop  string    // DTM
	eventCode                  [3]string // one eventCodeList entry
}

// metadataXML lists docs, each with the patient MRN100234 of 1.2.3.
func metadataXML(docs ...xdmDoc) []byte {
	entries := make([]xdmEntry, len(docs))
	for i, d := range docs {
		entries[i] = xdmEntry{xdmDoc: d, patientID: "MRN100234^^^&1.2.3&ISO"}
	}
	return metadataXMLOf("", entries...)
}

// metadataXMLOf writes a METADATA.XML whose submission set was submitted
// at submitted (a DTM; empty: no submissionTime).
func metadataXMLOf(submitted string, docs ...xdmEntry) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
 <rim:RegistryObjectList>
`)
	esc := func(s string) string {
		var w strings.Builder
		xml.EscapeText(&w, []byte(s))
		return strings.ReplaceAll(w.String(), `"`, "&#34;")
	}
	slot := func(name string, values ...string) string {
		var v strings.Builder
		for _, x := range values {
			fmt.Fprintf(&v, "<rim:Value>%s</rim:Value>", esc(x))
		}
		return fmt.Sprintf("   <rim:Slot name=%q><rim:ValueList>%s</rim:ValueList></rim:Slot>\n", name, v.String())
	}
	if submitted != "" {
		fmt.Fprintf(&b, "  <rim:RegistryPackage id=\"SubmissionSet01\">\n%s  </rim:RegistryPackage>\n", slot("submissionTime", submitted))
	} else {
		b.WriteString("  <rim:RegistryPackage id=\"SubmissionSet01\"/>\n")
	}
	for i, d := range docs {
		id := fmt.Sprintf("Document%02d", i+1)
		fmt.Fprintf(&b, "  <rim:ExtrinsicObject id=%q mimeType=%q objectType=\"urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1\">\n", id, d.mime)
		for _, sv := range [][2]string{{"creationTime", d.creationTime}, {"languageCode", d.language}, {"hash", d.hash}, {"size", d.size}, {"sourcePatientId", d.sourcePatientID},
			{"serviceStartTime", d.serviceStart}, {"serviceStopTime", d.serviceStop}} {
			if sv[1] != "" {
				b.WriteString(slot(sv[0], sv[1]))
			}
		}
		if len(d.patientInfo) > 0 {
			b.WriteString(slot("sourcePatientInfo", d.patientInfo...))
		}
		if parts := strings.Split(d.uri, "|"); len(parts) > 1 {
			for j := range parts {
				parts[j] = fmt.Sprintf("%d|%s", j+1, parts[j])
			}
			b.WriteString(slot("URI", parts...))
		} else {
			b.WriteString(slot("URI", d.uri))
		}
		if d.title != "" {
			fmt.Fprintf(&b, "   <rim:Name><rim:LocalizedString value=\"%s\"/></rim:Name>\n", esc(d.title))
		}
		if d.comments != "" {
			fmt.Fprintf(&b, "   <rim:Description><rim:LocalizedString value=\"%s\"/></rim:Description>\n", esc(d.comments))
		}
		for _, sc := range []struct {
			n string
			c [3]string
		}{
			{"urn:uuid:f0306f51-975f-434e-a61c-c59651d33983", d.typeCode},
			{"urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a", d.classCode},
			{"urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d", d.formatCode},
			{"urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", d.confidential},
			{"urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4", d.eventCode},
		} {
			n, c := sc.n, sc.c
			if c[0] == "" {
				continue
			}
			fmt.Fprintf(&b, "   <rim:Classification classificationScheme=%q classifiedObject=%q nodeRepresentation=\"%s\">\n %s    <rim:Name><rim:LocalizedString value=\"%s\"/></rim:Name>\n   </rim:Classification>\n",
				n, id, esc(c[0]), slot("codingScheme", c[1]), esc(c[2]))
		}
		if d.authorInstitution != "" || d.authorPerson != "" {
			fmt.Fprintf(&b, "   <rim:Classification classificationScheme=\"urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d\" classifiedObject=%q nodeRepresentation=\"\">\n%s%s   </rim:Classification>\n",
				id, slot("authorInstitution", d.authorInstitution), slot("authorPerson", d.authorPerson))
		}
		if d.patientID != "" {
			fmt.Fprintf(&b, `   <rim:ExternalIdentifier id="ei%da" registryObject=%q identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="%s">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.patientId"/></rim:Name>
   </rim:ExternalIdentifier>
`, i+1, id, esc(d.patientID))
		}
		fmt.Fprintf(&b, `   <rim:ExternalIdentifier id="ei%db" registryObject=%q identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="%s">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
   </rim:ExternalIdentifier>
  </rim:ExtrinsicObject>
`, i+1, id, esc(d.uniqueID))
	}
	b.WriteString(" </rim:RegistryObjectList>\n</lcm:SubmitObjectsRequest>\n")
	return []byte(b.String())
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	ccdaProblem = filepath.Join("..", "..", "testdata", "convert", "ccda-problem", "input.xml")
	ccdaResult  = filepath.Join("..", "..", "testdata", "convert", "ccda-result", "input.xml")
	adtA01      = filepath.Join("..", "..", "testdata", "hl7v2", "adt-a01.hl7")
)

// xdmPackage is an ITI-32 package with the two C-CDA fixtures, the second
// one's URI split over two slot values.
func xdmPackage(t *testing.T, at time.Time) []byte {
	return buildZip(t, at,
		zipFile{"INDEX.HTM", []byte("<html><body>Documents</body></html>")},
		zipFile{"README.TXT", []byte("Sent by Riverside Clinic via Direct.")},
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXML(
			xdmDoc{"DOC0001.XML", "text/xml", "1.2.3.4.1"},
			xdmDoc{"DOC00|02.XML", "text/xml", "1.2.3.4.2"},
		)},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", readFile(t, ccdaProblem)},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.XML", readFile(t, ccdaResult)},
		zipFile{"IHE_XDM/SUBSET01/CDA.XSL", []byte(`<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"/>`)},
	)
}

// aloneBundles converts a C-CDA file as if it had been dropped by itself.
func aloneBundles(t *testing.T, path string) [][]byte {
	t.Helper()
	units, err := pipeline.CCDA{}.Convert(context.Background(), adapters.Raw{Name: filepath.Base(path), Format: FormatCCDA, Body: readFile(t, path)})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, u := range units {
		out = append(out, u.Bundle)
	}
	return out
}

func zipConfig(dir string) folder.Config {
	return folder.Config{Name: "ehr", Path: dir, Settle: 30 * time.Millisecond, Rescan: time.Hour}
}

// settled waits for name to reach done/ (or failed/ when failed) and
// returns, for failed/, the .error.txt.
func settled(t *testing.T, s *Source, name string, failed bool) string {
	t.Helper()
	p := s.Engine().Paths()
	if failed {
		waitFor(t, name+" in failed/", func() bool {
			_, err := os.Stat(filepath.Join(p.Failed, name))
			return err == nil
		})
		return string(readFile(t, filepath.Join(p.Failed, name+".error.txt")))
	}
	waitFor(t, name+" in done/", func() bool {
		m, _ := filepath.Glob(filepath.Join(p.Done, "*", name))
		return len(m) == 1
	})
	return ""
}

// An XDM package's two C-CDA documents are queued exactly as the same
// documents dropped alone would be; INDEX.HTM, README.TXT and the
// stylesheet are left alone, and the package moves to done/.
func TestZipXDMQueuesEachDocument(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	rec := &recorder{next: pipe}
	s := startSource(t, zipConfig(dir), rec)
	data := xdmPackage(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	copyIn(t, dir, "referral.zip", data)
	if reason := settled(t, s, "referral.zip", false); reason != "" {
		t.Fatal(reason)
	}

	var want [][]byte
	for _, p := range []string{ccdaProblem, ccdaResult} {
		want = append(want, aloneBundles(t, p)...)
	}
	items := q.all()
	if len(items) != len(want) {
		t.Fatalf("queued %d bundles, want %d", len(items), len(want))
	}
	for i := range want {
		if !bytes.Equal(items[i].Body, want[i]) {
			t.Errorf("bundle %d differs from the one the document makes alone", i)
		}
	}

	raws := rec.all()
	if len(raws) != 2 {
		t.Fatalf("consumer got %d inputs, want the 2 documents", len(raws))
	}
	archiveSum := sha256.Sum256(data)
	for i, doc := range []string{ccdaProblem, ccdaResult} {
		r := raws[i]
		entry := fmt.Sprintf("IHE_XDM/SUBSET01/DOC000%d.XML", i+1)
		sum := sha256.Sum256(readFile(t, doc))
		switch {
		case r.Name != "referral.zip: "+entry:
			t.Errorf("input %d named %q", i, r.Name)
		case r.Format != FormatCCDA || r.Meta[MetaFormat] != FormatCCDA:
			t.Errorf("%s: format %q", entry, r.Format)
		case r.Meta[folder.MetaSHA256] != hex.EncodeToString(sum[:]):
			t.Errorf("%s: sha256 is not the document's", entry)
		case r.Meta[MetaArchiveSHA256] != hex.EncodeToString(archiveSum[:]):
			t.Errorf("%s: archive_sha256 is not the archive's", entry)
		case r.Meta[MetaEntry] != entry || r.Meta[MetaXDMUniqueID] != fmt.Sprintf("1.2.3.4.%d", i+1) || r.Meta[MetaXDMMimeType] != "text/xml":
			t.Errorf("%s: meta %v", entry, r.Meta)
		case r.Meta[folder.MetaPath] != "":
			t.Errorf("%s: meta names the archive's path", entry)
		case r.Meta[folder.MetaFile] != "referral.zip":
			t.Errorf("%s: file %q", entry, r.Meta[folder.MetaFile])
		}
	}
}

// The same package dropped twice, and then re-zipped (other bytes, same
// documents), reaches the queue once: the engine knows the archive's
// digest, and the pipeline each document's bundles.
func TestZipSameTwice(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	first := xdmPackage(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	copyIn(t, dir, "a.zip", first)
	settled(t, s, "a.zip", false)
	n := len(q.all())
	if n == 0 {
		t.Fatal("nothing queued")
	}
	copyIn(t, dir, "b.zip", first)
	settled(t, s, "b.zip", false)
	again := xdmPackage(t, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	if bytes.Equal(again, first) {
		t.Fatal("the re-zipped package has the same bytes")
	}
	copyIn(t, dir, "c.zip", again)
	settled(t, s, "c.zip", false)
	if got := len(q.all()); got != n {
		t.Fatalf("queue holds %d bundles after three drops of the same documents, want %d", got, n)
	}

	// Without dedup, both archives still make byte-identical bundles.
	var runs [2][][]byte
	for i, data := range [][]byte{first, again} {
		pipe, q := newPipeline(t)
		src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
		if err := src.consumeZip(context.Background(), adapters.Raw{Name: "x.zip", Body: data, Meta: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		for _, it := range q.all() {
			runs[i] = append(runs[i], it.Body)
		}
	}
	if len(runs[0]) != n || len(runs[0]) != len(runs[1]) {
		t.Fatalf("runs made %d and %d bundles, want %d", len(runs[0]), len(runs[1]), n)
	}
	for i := range runs[0] {
		if !bytes.Equal(runs[0][i], runs[1][i]) {
			t.Errorf("bundle %d differs between the two archives", i)
		}
	}
}

// A package whose METADATA.XML lists a C-CDA, a PDF and a document it
// lacks: the C-CDA is converted and the PDF filed as a DocumentReference,
// and the package goes to failed/ with the missing one named.
func TestZipXDMPartial(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	copyIn(t, dir, "mixed.zip", buildZip(t, time.Now(),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXML(
			xdmDoc{"DOC0001.XML", "text/xml", "1.2.3.4.1"},
			xdmDoc{"DOC0002.PDF", "application/pdf", "1.2.3.4.2"},
			xdmDoc{"DOC0003.XML", "text/xml", "1.2.3.4.3"},
		)},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", readFile(t, ccdaProblem)},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", []byte("%PDF-1.4\n%%EOF\n")},
	))
	reason := settled(t, s, "mixed.zip", true)
	for _, want := range []string{
		"2 of 3 documents accepted",
		"mixed.zip: IHE_XDM/SUBSET01/DOC0003.XML: METADATA.XML lists this document (uniqueId 1.2.3.4.3) but the archive does not hold it",
	} {
		if !strings.Contains(reason, want) {
			t.Errorf(".error.txt lacks %q:\n%s", want, reason)
		}
	}
	if strings.Contains(reason, "DOC0002.PDF") {
		t.Errorf(".error.txt names the PDF:\n%s", reason)
	}
	if got, want := len(q.all()), len(aloneBundles(t, ccdaProblem))+1; got != want {
		t.Errorf("queued %d bundles, want the C-CDA's %d and the PDF's", got, want-1)
	}
}

// A document in a subset that METADATA.XML forgot to list is converted
// too (content decides), not skipped: with after: delete it would be gone.
func TestZipXDMUnlisted(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	copyIn(t, dir, "unlisted.zip", buildZip(t, time.Now(),
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXML(xdmDoc{"DOC0001.XML", "text/xml", "1.2.3.4.1"})},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", readFile(t, ccdaProblem)},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.XML", readFile(t, ccdaResult)},
		zipFile{"IHE_XDM/SUBSET01/CDA.XSL", []byte(`<xsl:stylesheet/>`)},
	))
	settled(t, s, "unlisted.zip", false)
	if got, want := len(q.all()), len(aloneBundles(t, ccdaProblem))+len(aloneBundles(t, ccdaResult)); got != want {
		t.Fatalf("queued %d bundles, want %d (the unlisted document too)", got, want)
	}
}

// Without METADATA.XML every file of the subset is sniffed; the
// stylesheet is left alone.
func TestZipXDMWithoutMetadata(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	copyIn(t, dir, "nometa.zip", buildZip(t, time.Now(),
		zipFile{"README.TXT", []byte("hello")},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", readFile(t, ccdaProblem)},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.XML", readFile(t, ccdaResult)},
		zipFile{"IHE_XDM/SUBSET01/STYLE.XSL", []byte(`<xsl:stylesheet/>`)},
	))
	settled(t, s, "nometa.zip", false)
	if got, want := len(q.all()), len(aloneBundles(t, ccdaProblem))+len(aloneBundles(t, ccdaResult)); got != want {
		t.Fatalf("queued %d bundles, want %d", got, want)
	}
}

// A generic archive (an EHI export): the HL7 v2 message and each NDJSON
// line are queued; folders and desktop litter are left alone.
func TestZipGeneric(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	rec := &recorder{next: pipe}
	s := startSource(t, zipConfig(dir), rec)
	copyIn(t, dir, "export.zip", buildZip(t, time.Now(),
		zipFile{"export/", nil},
		zipFile{"export/adt.hl7", readFile(t, adtA01)},
		zipFile{"export/Patient.ndjson", readFile(t, filepath.Join("testdata", "Patient.ndjson"))},
		zipFile{"__MACOSX/export/._adt.hl7", []byte{0, 5, 22, 7}},
		zipFile{"export/.DS_Store", []byte{0, 0, 0, 1}},
	))
	settled(t, s, "export.zip", false)
	formats := map[string]int{}
	for _, it := range q.all() {
		formats[it.Attrs["format"]]++
	}
	if formats["hl7v2"] == 0 || formats["fhir"] != 3 {
		t.Fatalf("queued by format %v, want the ADT's bundle(s) and 3 FHIR lines", formats)
	}
	var names []string
	for _, r := range rec.all() {
		names = append(names, r.Name+" "+r.Format)
	}
	if want := []string{"export.zip: export/adt.hl7 hl7v2-batch", "export.zip: export/Patient.ndjson fhir-ndjson"}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("consumed %q, want %q", names, want)
	}
}

// Entries ferry does not convert are named; the convertible one is
// queued; a ZIP inside is not opened.
func TestZipGenericNotConvertible(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	inner := buildZip(t, time.Now(), zipFile{"adt.hl7", readFile(t, adtA01)})
	copyIn(t, dir, "ehi.zip", buildZip(t, time.Now(),
		zipFile{"Patient.ndjson", readFile(t, filepath.Join("testdata", "Patient.ndjson"))},
		zipFile{"labs.csv", []byte("id,value\n1,2\n")},
		zipFile{"older.zip", inner},
	))
	reason := settled(t, s, "ehi.zip", true)
	for _, want := range []string{
		"1 of 3 documents accepted",
		`ehi.zip: labs.csv: not converted: cannot classify "labs.csv"`,
		"ehi.zip: older.zip: not converted: an archive inside the archive is not opened",
	} {
		if !strings.Contains(reason, want) {
			t.Errorf(".error.txt lacks %q:\n%s", want, reason)
		}
	}
	if got := len(q.all()); got != 3 {
		t.Errorf("queued %d bundles, want the 3 NDJSON lines", got)
	}
}

// A document the converter refuses is quarantined under its entry's name
// and named in the archive's .error.txt, like a bad message of a batch.
func TestZipEntryQuarantined(t *testing.T) {
	pipe, q := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	data := buildZip(t, time.Now(),
		zipFile{"good.ndjson", readFile(t, filepath.Join("testdata", "Patient.ndjson"))},
		zipFile{"bad.xml", []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1"/></ClinicalDocument>`)},
	)
	err := src.consumeZip(context.Background(), adapters.Raw{Name: "drop.zip", Body: data})
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "drop.zip: bad.xml: ") || !strings.Contains(err.Error(), "1 of 2 documents accepted") {
		t.Fatalf("consumeZip = %v", err)
	}
	ids, lerr := pipe.Quarantine().List()
	if lerr != nil || len(ids) != 1 {
		t.Fatalf("quarantine holds %v (%v), want one entry", ids, lerr)
	}
	e, gerr := pipe.Quarantine().Get(ids[0])
	if gerr != nil || e.Name != "drop.zip: bad.xml" || e.Meta[MetaEntry] != "bad.xml" {
		t.Fatalf("quarantined %+v (%v)", e, gerr)
	}
	if len(q.all()) != 3 {
		t.Fatalf("queued %d, want 3", len(q.all()))
	}
}

// Archives made to harm are refused whole, before any entry is consumed.
func TestZipRefused(t *testing.T) {
	doc := readFile(t, ccdaProblem)
	ok := zipFile{"ok.xml", doc}
	encrypted := func() []byte {
		var b bytes.Buffer
		w := zip.NewWriter(&b)
		fw, _ := w.CreateHeader(&zip.FileHeader{Name: "secret.xml", Method: zip.Store, Flags: 0x1})
		fw.Write(doc)
		w.Close()
		return b.Bytes()
	}
	overlapping := func() []byte {
		// Two stored entries of equal size; the second's central record
		// is made to point at the first's data.
		var b bytes.Buffer
		w := zip.NewWriter(&b)
		for _, n := range []string{"a.xml", "b.xml"} {
			fw, _ := w.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
			fw.Write(doc)
		}
		w.Close()
		data := b.Bytes()
		cd := bytes.LastIndex(data, []byte("PK\x01\x02")) // b.xml's central record
		binary.LittleEndian.PutUint32(data[cd+42:], 0)
		return data
	}
	cases := []struct {
		name string
		data []byte
		lim  zipLimits
		want string
	}{
		{"parent", buildZip(t, time.Now(), ok, zipFile{"../evil.xml", doc}), defaultZipLimits, `entry "../evil.xml": a name that leaves the archive (..) is refused`},
		{"nested parent", buildZip(t, time.Now(), ok, zipFile{"a/../../evil.xml", doc}), defaultZipLimits, "leaves the archive"},
		{"backslash parent", buildZip(t, time.Now(), ok, zipFile{`a\..\..\evil.xml`, doc}), defaultZipLimits, "leaves the archive"},
		{"absolute", buildZip(t, time.Now(), ok, zipFile{"/etc/evil.xml", doc}), defaultZipLimits, "an absolute path is refused"},
		{"drive", buildZip(t, time.Now(), ok, zipFile{`C:\evil.xml`, doc}), defaultZipLimits, "an absolute path is refused"},
		{"duplicate", buildZip(t, time.Now(), ok, ok), defaultZipLimits, "appears twice"},
		{"duplicate but for case", buildZip(t, time.Now(), zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", doc}, zipFile{"IHE_XDM/SUBSET01/doc0001.xml", doc}), defaultZipLimits, "appears twice"},
		{"encrypted", encrypted(), defaultZipLimits, "is encrypted"},
		{"too many entries", buildZip(t, time.Now(), ok, zipFile{"b.xml", doc}, zipFile{"c.xml", doc}), zipLimits{entries: 2, bytes: 1 << 30, ratio: 200, ratioFloor: 1 << 20}, "holds more than 2 entries; at most 2"},
		{"oversize", buildZip(t, time.Now(), ok, zipFile{"b.xml", doc}), zipLimits{entries: 10, bytes: int64(len(doc)) + 10, ratio: 200, ratioFloor: 1 << 20}, "inflates to more than"},
		{"bomb", buildZip(t, time.Now(), ok, zipFile{"zeros.xml", make([]byte, 4<<20)}), defaultZipLimits, `entry "zeros.xml" inflates`},
		{"overlap", overlapping(), defaultZipLimits, "share stored data"},
		{"not a zip", []byte("PK\x03\x04 but nothing else"), defaultZipLimits, "not a readable ZIP archive"},
		{"empty", buildZip(t, time.Now()), defaultZipLimits, "holds no document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &collector{}
			src := &Source{next: c, zip: tc.lim, maxBody: 64 << 20}
			err := src.consumeZip(context.Background(), adapters.Raw{Name: "evil.zip", Body: tc.data})
			if !queue.IsPermanent(err) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ehrdrop: evil.zip: ") {
				t.Fatalf("consumeZip = %v, want a permanent error with %q", err, tc.want)
			}
			if n := len(c.all()); n != 0 {
				t.Fatalf("%d entries consumed from a refused archive", n)
			}
		})
	}
}

// An entry that inflates past the size its header declares is stopped
// there and named.
func TestZipSizeLie(t *testing.T) {
	big := bytes.Repeat([]byte("MSH|^~\\&|A|B\r"), 10_000)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(big)
	fw.Close()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	raw, err := w.CreateRaw(&zip.FileHeader{Name: "small.hl7", Method: zip.Deflate,
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: 100})
	if err != nil {
		t.Fatal(err)
	}
	raw.Write(comp.Bytes())
	w.Close()

	c := &collector{}
	src := &Source{next: c, zip: defaultZipLimits, maxBody: 64 << 20}
	err = src.consumeZip(context.Background(), adapters.Raw{Name: "liar.zip", Body: b.Bytes()})
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "liar.zip: small.hl7: the entry inflates to more than the 100 bytes its header declares") {
		t.Fatalf("consumeZip = %v", err)
	}
	if len(c.all()) != 0 {
		t.Fatal("the entry was consumed")
	}
}

// The engine moves a refused archive to failed/ with the reason.
func TestZipRefusedToFailed(t *testing.T) {
	dir := t.TempDir()
	c := &collector{}
	s := startSource(t, zipConfig(dir), c)
	copyIn(t, dir, "evil.zip", buildZip(t, time.Now(), zipFile{"../../etc/cron.d/x", []byte("MSH|^~\\&|A\r")}))
	reason := settled(t, s, "evil.zip", true)
	if !strings.Contains(reason, `entry "../../etc/cron.d/x": a name that leaves the archive (..) is refused`) {
		t.Fatalf(".error.txt:\n%s", reason)
	}
	if len(c.all()) != 0 {
		t.Fatal("an entry was consumed")
	}
}

// An archive above the engine's in-memory limit is read in place from the
// claimed file, and an entry above it is streamed through Raw.Open.
func TestZipStreamsLargeEntries(t *testing.T) {
	dir := t.TempDir()
	c := &collector{}
	cfg := zipConfig(dir)
	cfg.MaxBodyBytes = 4096
	startSource(t, cfg, c)
	var nd bytes.Buffer
	for nd.Len() < 100_000 {
		nd.WriteString(`{"resourceType":"Observation","status":"final","code":{"text":"heart rate"}}` + "\n")
	}
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	fw, _ := w.CreateHeader(&zip.FileHeader{Name: "Observation.ndjson", Method: zip.Store})
	fw.Write(nd.Bytes())
	w.Close()
	copyIn(t, dir, "big.zip", b.Bytes())
	waitFor(t, "consumed", func() bool { return len(c.all()) == 1 })
	g := c.all()[0]
	if !g.bodyNil || g.format != FormatFHIRNDJSON || !bytes.Equal(g.body, nd.Bytes()) || g.name != "big.zip: Observation.ndjson" {
		t.Fatalf("got %q bodyNil=%v format=%q len=%d", g.name, g.bodyNil, g.format, len(g.body))
	}
}

// A transient failure leaves the archive to be consumed again whole, and
// its error names the entry by number, not by its name.
func TestZipTransientHidesEntryName(t *testing.T) {
	busy := adapters.ConsumerFunc(func(_ context.Context, in adapters.Raw) error {
		if strings.HasSuffix(in.Name, "RIVERA_ANA.hl7") {
			return fmt.Errorf("%s: message: queue: %w", in.Name, queue.ErrFull)
		}
		return nil
	})
	src := &Source{next: busy, zip: defaultZipLimits, maxBody: 64 << 20}
	data := buildZip(t, time.Now(), zipFile{"a.hl7", readFile(t, adtA01)}, zipFile{"RIVERA_ANA.hl7", readFile(t, adtA01)})
	err := src.consumeZip(context.Background(), adapters.Raw{Name: "x.zip", Body: data})
	if err == nil || queue.IsPermanent(err) || !errors.Is(err, queue.ErrFull) {
		t.Fatalf("consumeZip = %v, want a transient queue-full error", err)
	}
	if strings.Contains(err.Error(), "RIVERA") || !strings.Contains(err.Error(), "x.zip: entry 2: message") {
		t.Fatalf("error %q names the entry", err)
	}
	src.logPHI = true
	if err := src.consumeZip(context.Background(), adapters.Raw{Name: "x.zip", Body: data}); !strings.Contains(err.Error(), "RIVERA_ANA.hl7") {
		t.Fatalf("with log_phi the error is %q", err)
	}
}

func TestJoinURI(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{" DOC0001.XML "}, "DOC0001.XML"},
		{[]string{"2|0001.XML", "1|DOC"}, "DOC0001.XML"},
		{[]string{"1|DOC", "3|x"}, ""},
		{[]string{"DOC", "0001"}, ""},
	} {
		if got := joinURI(tc.in); got != tc.want {
			t.Errorf("joinURI(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
