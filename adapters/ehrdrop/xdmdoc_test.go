package ehrdrop

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
)

// referralPDF stands for the PDF referral a Direct message carries.
var referralPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// pdfEntry is the PDF's METADATA.XML entry, with everything a Direct
// sender's XDM writer gives.
func pdfEntry() xdmEntry {
	sum := sha1.Sum(referralPDF)
	return xdmEntry{
		xdmDoc:            xdmDoc{"DOC0002.PDF", "application/pdf", "1.2.840.99999.7.2"},
		patientID:         "MRN-7^^^&2.16.840.1.113883.3.999.1&ISO",
		sourcePatientID:   "LOCAL-7^^^&1.2.840.99999.3&ISO",
		patientInfo:       []string{"PID-3|LOCAL-7^^^&1.2.840.99999.3&ISO", "PID-5|Roe^Jane^Ann", "PID-7|19700101", "PID-8|F"},
		title:             "Referral to cardiology",
		creationTime:      "20260228153000",
		language:          "en-US",
		hash:              hex.EncodeToString(sum[:]),
		size:              strconv.Itoa(len(referralPDF)),
		typeCode:          [3]string{"57133-1", "2.16.840.1.113883.6.1", "Referral note"},
		classCode:         [3]string{"REFERRAL", "1.3.6.1.4.1.21367.100.1", "Referral"},
		formatCode:        [3]string{"urn:ihe:iti:xds:2017:mimeTypeSufficient", "1.3.6.1.4.1.19376.1.2.3", "mimeType Sufficient"},
		confidential:      [3]string{"N", "2.16.840.1.113883.5.25", "normal"},
		authorInstitution: "Riverside Cardiology^^^^^&1.2.840.99999&ISO^^^^RC-1",
		authorPerson:      "1234^Smith^John^^^Dr^^^&1.2.840.99999.9&ISO",
	}
}

// directPackage is an XDM package with a C-CDA and the PDF referral.
func directPackage(t *testing.T, at time.Time, pdf xdmEntry) []byte {
	return buildZip(t, at,
		zipFile{"INDEX.HTM", []byte("<html><body>Documents</body></html>")},
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXMLOf("20260301090000",
			xdmEntry{xdmDoc: xdmDoc{"DOC0001.XML", "text/xml", "1.2.840.99999.7.1"}, patientID: "MRN-7^^^&2.16.840.1.113883.3.999.1&ISO"},
			pdf,
		)},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", readFile(t, ccdaProblem)},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", referralPDF},
	)
}

// entryOf finds the first bundle entry with a resource of type typ.
func entryOf(t *testing.T, bundle []byte, typ string) map[string]any {
	t.Helper()
	var b struct{ Entry []map[string]any }
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		if r, _ := e["resource"].(map[string]any); r["resourceType"] == typ {
			return e
		}
	}
	return nil
}

// at walks a decoded JSON value by keys and indexes.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// A Direct message's XDM package with a C-CDA and a PDF referral: the
// C-CDA is converted as before, the PDF filed as a DocumentReference and
// Binary from its METADATA.XML entry (MHD's mapping), and the package
// moves to done/.
func TestZipXDMFilesPDF(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	rec := &recorder{next: pipe}
	s := startSource(t, zipConfig(dir), rec)
	copyIn(t, dir, "direct.zip", directPackage(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), pdfEntry()))
	if reason := settled(t, s, "direct.zip", false); reason != "" {
		t.Fatal(reason)
	}
	items := q.all()
	if want := len(aloneBundles(t, ccdaProblem)) + 1; len(items) != want {
		t.Fatalf("queued %d bundles, want the C-CDA's and the PDF's: %d", len(items), want)
	}
	pdf := items[len(items)-1]
	if pdf.Attrs["format"] != xdmfhir.Format || pdf.Attrs["content"] != "application/pdf" || pdf.Key == "" {
		t.Errorf("PDF bundle attrs %v, key %q", pdf.Attrs, pdf.Key)
	}

	doc := entryOf(t, pdf.Body, "DocumentReference")
	if doc == nil {
		t.Fatalf("no DocumentReference in %s", pdf.Body)
	}
	d := doc["resource"]
	if at(d, "subject", "identifier", "system") != "urn:oid:2.16.840.1.113883.3.999.1" || at(d, "subject", "identifier", "value") != "MRN-7" {
		t.Errorf("subject %v", at(d, "subject"))
	}
	if at(d, "type", "coding", 0, "system") != "http://loinc.org" || at(d, "type", "coding", 0, "code") != "57133-1" || at(d, "type", "coding", 1) != nil {
		t.Errorf("type %v", at(d, "type"))
	}
	if at(d, "masterIdentifier", "system") != "urn:ietf:rfc:3986" || at(d, "masterIdentifier", "value") != "urn:oid:1.2.840.99999.7.2" ||
		at(doc, "request", "ifNoneExist") != "identifier=urn%3Aietf%3Arfc%3A3986%7Curn%3Aoid%3A1.2.840.99999.7.2" {
		t.Errorf("masterIdentifier %v, ifNoneExist %v", at(d, "masterIdentifier"), at(doc, "request", "ifNoneExist"))
	}
	// MHD (the default profile) takes one category: the XDS classCode.
	if at(d, "category", 0, "coding", 0, "code") != "REFERRAL" || at(d, "category", 1) != nil ||
		at(d, "category", 0, "coding", 0, "system") != "urn:oid:1.3.6.1.4.1.21367.100.1" {
		t.Errorf("category %v", at(d, "category"))
	}
	if at(d, "securityLabel", 0, "coding", 0, "code") != "N" || at(d, "author", 0, "display") != "Riverside Cardiology" ||
		at(d, "author", 0, "identifier", "value") != "RC-1" || at(d, "author", 1, "display") != "Dr John Smith" {
		t.Errorf("securityLabel %v, author %v", at(d, "securityLabel"), at(d, "author"))
	}
	att := at(d, "content", 0, "attachment")
	sum := sha1.Sum(referralPDF)
	if at(att, "hash") != base64.StdEncoding.EncodeToString(sum[:]) || at(att, "size") != float64(len(referralPDF)) ||
		at(att, "contentType") != "application/pdf" || at(att, "title") != "Referral to cardiology" ||
		at(att, "creation") != "2026-02-28T15:30:00Z" || at(att, "language") != "en-US" {
		t.Errorf("attachment %v", att)
	}
	if at(d, "content", 0, "format", "code") != "urn:ihe:iti:xds:2017:mimeTypeSufficient" ||
		at(d, "content", 0, "format", "system") != "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode" {
		t.Errorf("format %v", at(d, "content", 0, "format"))
	}
	bin := entryOf(t, pdf.Body, "Binary")
	data, _ := base64.StdEncoding.DecodeString(at(bin, "resource", "data").(string))
	if !bytes.Equal(data, referralPDF) || at(bin, "fullUrl") != at(att, "url") {
		t.Errorf("Binary is not the PDF, or not the attachment's")
	}
	// patient_link match: the Patient rides along as a conditional
	// create, named as sourcePatientInfo names them.
	pt := entryOf(t, pdf.Body, "Patient")
	if pt == nil || at(d, "subject", "reference") != at(pt, "fullUrl") || at(pt, "resource", "name", 0, "family") != "Roe" ||
		at(pt, "resource", "birthDate") != "1970-01-01" {
		t.Errorf("patient entry %v, subject %v", pt, at(d, "subject"))
	}
	list := entryOf(t, pdf.Body, "List")
	if at(list, "resource", "date") != "2026-03-01T09:00:00Z" {
		t.Errorf("SubmissionSet date %v, want the package's submissionTime", at(list, "resource", "date"))
	}

	// The document's patient facts travel in Raw.Meta under phi. only.
	raws := rec.all()
	r := raws[len(raws)-1]
	if r.Format != FormatXDMDocument || r.Meta[xdmfhir.MetaEntry] == "" || !strings.Contains(r.Meta[xdmfhir.MetaPHI], "MRN-7") {
		t.Fatalf("raw %s %v", r.Format, r.Meta)
	}
	for k, v := range r.Meta {
		if !strings.HasPrefix(k, "phi.") && (strings.Contains(v, "MRN-7") || strings.Contains(v, "Roe") || strings.Contains(v, "cardiology")) {
			t.Errorf("meta %s holds PHI: %s", k, v)
		}
	}
	// The C-CDA's input carries no XDM entry: it names its own patient.
	if raws[0].Format != FormatCCDA || raws[0].Meta[xdmfhir.MetaEntry] != "" || raws[0].Meta[xdmfhir.MetaPHI] != "" {
		t.Errorf("C-CDA meta %v", raws[0].Meta)
	}
}

// The same package, dropped again another day, makes byte-identical
// bundles (its dates come from METADATA.XML); through the gateway the
// second drop queues nothing.
func TestZipXDMDocumentTwice(t *testing.T) {
	data := directPackage(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), pdfEntry())
	var runs [2][][]byte
	for i, received := range []time.Time{time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC), time.Date(2026, 3, 9, 14, 0, 0, 0, time.UTC)} {
		pipe, q := newPipeline(t)
		src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
		if err := src.consumeZip(context.Background(), adapters.Raw{Name: "x.zip", Body: data, Received: received, Meta: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		for _, it := range q.all() {
			runs[i] = append(runs[i], it.Body)
		}
	}
	if len(runs[0]) == 0 || len(runs[0]) != len(runs[1]) {
		t.Fatalf("runs made %d and %d bundles", len(runs[0]), len(runs[1]))
	}
	for i := range runs[0] {
		if !bytes.Equal(runs[0][i], runs[1][i]) {
			t.Errorf("bundle %d differs between the two drops", i)
		}
	}

	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	copyIn(t, dir, "a.zip", data)
	settled(t, s, "a.zip", false)
	n := len(q.all())
	copyIn(t, dir, "b.zip", directPackage(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), pdfEntry()))
	settled(t, s, "b.zip", false)
	if got := len(q.all()); got != n {
		t.Errorf("queue holds %d bundles after the package came twice, want %d", got, n)
	}
}

// A PDF whose bytes are not the ones METADATA.XML's hash (or size)
// describes is not filed: the package goes to failed/ naming it and the
// mismatch.
func TestZipXDMDocumentHashMismatch(t *testing.T) {
	dir := t.TempDir()
	pipe, q := newPipeline(t)
	s := startSource(t, zipConfig(dir), pipe)
	bad := pdfEntry()
	bad.hash = strings.Repeat("ab", 20)
	copyIn(t, dir, "altered.zip", directPackage(t, time.Now(), bad))
	reason := settled(t, s, "altered.zip", true)
	sum := sha1.Sum(referralPDF)
	for _, want := range []string{
		"1 of 2 documents accepted",
		"altered.zip: IHE_XDM/SUBSET01/DOC0002.PDF: not converted: METADATA.XML gives SHA-1 hash " + bad.hash + " but the document's is " + hex.EncodeToString(sum[:]),
	} {
		if !strings.Contains(reason, want) {
			t.Errorf(".error.txt lacks %q:\n%s", want, reason)
		}
	}
	if got, want := len(q.all()), len(aloneBundles(t, ccdaProblem)); got != want {
		t.Errorf("queued %d bundles, want the C-CDA's %d only", got, want)
	}

	bad = pdfEntry()
	bad.size = strconv.Itoa(len(referralPDF) - 1)
	copyIn(t, dir, "short.zip", directPackage(t, time.Now(), bad))
	if reason := settled(t, s, "short.zip", true); !strings.Contains(reason, fmt.Sprintf("DOC0002.PDF: not converted: METADATA.XML gives size %d but the document holds %d bytes", len(referralPDF)-1, len(referralPDF))) {
		t.Errorf(".error.txt:\n%s", reason)
	}
}

// A PDF whose entry names no usable patient is filed without a subject
// (MHD Minimal allows it) and without a Patient; a typeCode that is not
// LOINC is kept beside US Core's UNK; a PDF outside an XDM package is
// still not converted, having no metadata to be filed by.
func TestZipXDMDocumentWithoutPatient(t *testing.T) {
	for _, pid := range []string{"", "MRN-7^^^LOCALCLINIC"} {
		e := pdfEntry()
		e.patientID = pid
		e.typeCode = [3]string{"REF", "1.2.840.99999.44", "Referral (local)"}
		pipe, q := newPipeline(t)
		src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
		if err := src.consumeZip(context.Background(), adapters.Raw{Name: "x.zip", Body: directPackage(t, time.Now(), e), Meta: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		items := q.all()
		body := items[len(items)-1].Body
		d := entryOf(t, body, "DocumentReference")["resource"]
		if at(d, "subject") != nil || entryOf(t, body, "Patient") != nil || items[len(items)-1].Key != "" {
			t.Errorf("patientId %q: subject %v", pid, at(d, "subject"))
		}
		if at(d, "type", "coding", 0, "code") != "UNK" || at(d, "type", "coding", 1, "code") != "REF" ||
			at(d, "type", "coding", 1, "system") != "urn:oid:1.2.840.99999.44" {
			t.Errorf("type %v", at(d, "type"))
		}
	}

	pipe, _ := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	err := src.consumeZip(context.Background(), adapters.Raw{Name: "plain.zip", Meta: map[string]string{},
		Body: buildZip(t, time.Now(), zipFile{"referral.pdf", referralPDF})})
	if err == nil || !strings.Contains(err.Error(), "plain.zip: referral.pdf: not converted") {
		t.Errorf("a PDF in a plain archive: %v", err)
	}
}
