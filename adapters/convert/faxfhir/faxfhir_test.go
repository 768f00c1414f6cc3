package faxfhir

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir/tiffpdf"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
)

const faxDir = "../../../testdata/fax"

var received = time.Date(2026, 11, 20, 19, 3, 7, 0, time.UTC)

// mrnSearch is the search for testFax's patient.
const mrnSearch = "identifier=urn%3Aoid%3A2.16.840.1.113883.3.999.1%7CMRN-0042"

func testConfig() Config {
	return Config{
		SourceID:              "1.3.6.1.4.1.21367.2026.1",
		PatientSystem:         "urn:oid:2.16.840.1.113883.3.999.1",
		Author:                OrgRef{Display: "Main Street Clinic", Identifier: "urn:oid:2.16.840.1.113883.3.999|clinic"},
		Custodian:             OrgRef{Display: "Main Street Clinic"},
		PatientConditionalRef: true,
	}
}

func testFax() Fax {
	return Fax{Received: received, CallerNumber: "5550100", CallerName: "TEST CLINIC", CSID: "+1 555 0100",
		CalledNumber: "5550199", Pages: 2, DocType: "Referral", MRN: "MRN-0042", DOB: "19700101", PatientName: "TEST PATIENT"}
}

func rawFor(t *testing.T, file string, fax Fax) adapters.Raw {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(faxDir, file))
	if err != nil {
		t.Fatal(err)
	}
	return adapters.Raw{Source: "fax/test", Format: "fax", Name: filepath.Base(file), Body: body, Received: received, Meta: fax.Meta()}
}

// generic decodes the bundle into maps for path-style assertions.
func generic(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func get(v any, path ...any) any {
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

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }

func convert(t *testing.T, cfg Config, raw adapters.Raw) map[string]any {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Convert(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return generic(t, b)
}

func TestConvertMHDMinimalTIFF(t *testing.T) {
	b := convert(t, testConfig(), rawFor(t, "hylafax/recvq/fax000000042.tif", testFax()))
	if str(b, "type") != "transaction" || str(b, "meta", "profile", 0) != mhdSD+"IHE.MHD.Minimal.ProvideBundle" {
		t.Fatalf("bundle type/profile: %v %v", b["type"], get(b, "meta", "profile"))
	}
	entries := get(b, "entry").([]any)
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, str(e, "resource", "resourceType")+" "+str(e, "request", "method"))
	}
	if want := "List POST,DocumentReference POST,DocumentReference POST,Binary POST,Binary POST"; strings.Join(kinds, ",") != want {
		t.Fatalf("entries %v, want %s", kinds, want)
	}
	list, pdfDoc, tifDoc, pdfBin, tifBin := entries[0], entries[1], entries[2], entries[3], entries[4]

	// SubmissionSet.
	if str(list, "resource", "code", "coding", 0, "code") != "submissionset" || str(list, "resource", "status") != "current" ||
		str(list, "resource", "mode") != "working" || str(list, "resource", "date") != "2026-11-20T19:03:07Z" {
		t.Errorf("list: %v", get(list, "resource"))
	}
	if str(list, "resource", "extension", 0, "url") != mhdSD+"ihe-sourceId" ||
		str(list, "resource", "extension", 0, "valueIdentifier", "value") != "urn:oid:1.3.6.1.4.1.21367.2026.1" {
		t.Errorf("sourceId: %v", get(list, "resource", "extension"))
	}
	if !strings.HasPrefix(str(list, "resource", "identifier", 0, "value"), "urn:oid:2.25.") ||
		!strings.HasPrefix(str(list, "resource", "identifier", 1, "value"), "urn:uuid:") {
		t.Errorf("list identifiers: %v", get(list, "resource", "identifier"))
	}
	if str(list, "resource", "entry", 0, "item", "reference") != str(pdfDoc, "fullUrl") ||
		str(list, "resource", "entry", 1, "item", "reference") != str(tifDoc, "fullUrl") {
		t.Errorf("list entries: %v", get(list, "resource", "entry"))
	}
	if got := str(list, "request", "ifNoneExist"); got != fhir.IdentifierQuery(rfc3986, str(list, "resource", "identifier", 0, "value")) {
		t.Errorf("list ifNoneExist %q", got)
	}

	// The PDF DocumentReference.
	d := get(pdfDoc, "resource")
	if mi := str(d, "masterIdentifier", "value"); !strings.HasPrefix(mi, "urn:oid:2.25.") || str(d, "masterIdentifier", "system") != rfc3986 ||
		str(pdfDoc, "request", "ifNoneExist") != fhir.IdentifierQuery(rfc3986, mi) {
		t.Errorf("masterIdentifier %v / ifNoneExist %q", get(d, "masterIdentifier"), str(pdfDoc, "request", "ifNoneExist"))
	}
	if str(d, "status") != "current" || str(d, "type", "coding", 0, "code") != "57133-1" || str(d, "type", "coding", 0, "system") != "http://loinc.org" {
		t.Errorf("status/type: %v %v", d.(map[string]any)["status"], get(d, "type"))
	}
	if str(d, "subject", "reference") != "Patient?"+mrnSearch {
		t.Errorf("subject %v", get(d, "subject"))
	}
	if str(d, "author", 0, "display") != "Main Street Clinic" || str(d, "custodian", "display") != "Main Street Clinic" ||
		str(d, "securityLabel", 0, "coding", 0, "code") != "N" {
		t.Errorf("author/custodian/securityLabel: %v %v %v", get(d, "author"), get(d, "custodian"), get(d, "securityLabel"))
	}
	att := get(d, "content", 0, "attachment")
	if str(att, "contentType") != "application/pdf" || str(att, "url") != str(pdfBin, "fullUrl") ||
		str(d, "content", 0, "format", "code") != "urn:ihe:iti:xds:2017:mimeTypeSufficient" || str(att, "creation") == "" {
		t.Errorf("attachment %v", att)
	}
	if str(d, "relatesTo", 0, "code") != "transforms" || str(d, "relatesTo", 0, "target", "reference") != str(tifDoc, "fullUrl") {
		t.Errorf("relatesTo %v", get(d, "relatesTo"))
	}
	// Fax facts land in the description and the fax-receipt extension.
	if desc := str(d, "description"); desc != "Fax received 2026-11-20 19:03Z from 5550100 (CSID +1 555 0100), 2 pages" {
		t.Errorf("description %q", desc)
	}
	if str(d, "extension", 0, "url") != FaxExtensionURL {
		t.Errorf("extension %v", get(d, "extension"))
	}

	// Binaries: data, size and hash agree.
	for _, pair := range [][2]any{{pdfDoc, pdfBin}, {tifDoc, tifBin}} {
		doc, bin := pair[0], pair[1]
		data, err := base64.StdEncoding.DecodeString(str(bin, "resource", "data"))
		if err != nil {
			t.Fatal(err)
		}
		a := get(doc, "resource", "content", 0, "attachment")
		sum := sha1.Sum(data)
		if str(a, "hash") != base64.StdEncoding.EncodeToString(sum[:]) || get(a, "size").(float64) != float64(len(data)) {
			t.Errorf("%s: hash/size do not match the Binary", str(a, "contentType"))
		}
		// POST Binary, as ITI-65 prescribes (binary_method's MHD default).
		if str(bin, "resource", "contentType") != str(a, "contentType") || str(bin, "request", "url") != "Binary" || !strings.HasPrefix(str(bin, "fullUrl"), "urn:uuid:") {
			t.Errorf("binary %v %v", str(bin, "resource", "contentType"), get(bin, "request"))
		}
		if str(a, "contentType") == "application/pdf" && !bytes.HasPrefix(data, []byte("%PDF-1.4")) {
			t.Errorf("pdf binary starts %q", data[:8])
		}
	}
	orig, _ := os.ReadFile(filepath.Join(faxDir, "hylafax/recvq/fax000000042.tif"))
	if data, _ := base64.StdEncoding.DecodeString(str(tifBin, "resource", "data")); !bytes.Equal(data, orig) {
		t.Error("tiff binary is not the original file")
	}
}

// TestIdempotentIDs: the same fax dropped again (another receive time,
// other metadata) gives the same identifiers and request conditions.
func TestIdempotentIDs(t *testing.T) {
	a := convert(t, testConfig(), rawFor(t, "g4-fine-3p.tif", testFax()))
	f2 := testFax()
	f2.Received = received.Add(time.Hour)
	f2.CallerNumber = ""
	b := convert(t, testConfig(), rawFor(t, "g4-fine-3p.tif", f2))
	ids := func(m map[string]any) (out []any) {
		for _, e := range get(m, "entry").([]any) {
			out = append(out, str(e, "fullUrl"), get(e, "request"), get(e, "resource", "identifier"), get(e, "resource", "masterIdentifier"))
		}
		return out
	}
	if !reflect.DeepEqual(ids(a), ids(b)) {
		t.Errorf("ids differ:\n%v\n%v", ids(a), ids(b))
	}
	c := convert(t, testConfig(), rawFor(t, "g4-fine-1p.tif", testFax()))
	if str(c, "entry", 1, "fullUrl") == str(a, "entry", 1, "fullUrl") {
		t.Error("different faxes share a document id")
	}
}

func TestConvertPDFAndUSCore(t *testing.T) {
	// A PDF fax (as cloud fax services deliver) is its own rendition.
	pdf := writePDF(t, "g3-1d-normal-3p.tif")
	raw := adapters.Raw{Name: "in.pdf", Body: pdf, Received: received, Meta: Fax{DocType: "lab results"}.Meta()}
	b := convert(t, testConfig(), raw)
	if n := len(get(b, "entry").([]any)); n != 3 {
		t.Fatalf("%d entries, want List, DocumentReference, Binary", n)
	}
	if str(b, "entry", 1, "resource", "type", "coding", 0, "code") != "11502-2" || get(b, "entry", 1, "resource", "subject") != nil {
		t.Errorf("type/subject %v %v", get(b, "entry", 1, "resource", "type"), get(b, "entry", 1, "resource", "subject"))
	}

	cfg := testConfig()
	cfg.Profile = ProfileUSCore
	cfg.BinaryMethod = BinaryPost // us-core's default is put
	cfg.PatientConditionalRef = false
	cfg.PatientLink = PatientLinkIdentifier
	f := testFax()
	f.DocType = "mystery"
	u := convert(t, cfg, rawFor(t, "g4-fine-1p.tif", f))
	es := get(u, "entry").([]any)
	if len(es) != 3 || str(es[0], "resource", "resourceType") != "DocumentReference" || get(u, "meta", "profile") != nil {
		t.Fatalf("us-core bundle: %d entries, first %s", len(es), str(es[0], "resource", "resourceType"))
	}
	d := get(es[0], "resource")
	if str(d, "meta", "profile", 0) != usCoreDocRef || str(d, "category", 0, "coding", 0, "code") != "clinical-note" ||
		str(d, "type", "coding", 0, "code") != "UNK" || len(get(d, "content").([]any)) != 2 {
		t.Errorf("us-core docref: %v", d)
	}
	if get(d, "subject", "reference") != nil || str(d, "subject", "identifier", "value") != "MRN-0042" {
		t.Errorf("logical subject %v", get(d, "subject"))
	}
	if str(es[1], "request", "method") != "POST" || str(es[1], "request", "url") != "Binary" || get(es[1], "resource", "id") != nil {
		t.Errorf("binary post %v", get(es[1], "request"))
	}
	// A fax tied to no patient cannot be a US Core DocumentReference
	// (subject 1..1): it goes as a base one, claiming no profile.
	f.MRN = ""
	u = convert(t, cfg, rawFor(t, "g4-fine-1p.tif", f))
	d = get(u, "entry", 0, "resource")
	if m, _ := get(d, "meta").(map[string]any); get(d, "subject") != nil || m != nil && (m["profile"] != nil || len(m) == 0) {
		t.Errorf("us-core docref without a patient: subject %v, meta %v", get(d, "subject"), get(d, "meta"))
	}
}

func TestConvertComprehensive(t *testing.T) {
	cfg := testConfig()
	cfg.Profile = ProfileMHDComprehensive
	cfg.FacilityType = "http://snomed.info/sct|35971002|Ambulatory care site"
	cfg.PracticeSetting = "http://snomed.info/sct|394802001|General medicine"
	b := convert(t, cfg, rawFor(t, "g4-fine-1p.tif", testFax()))
	if str(b, "meta", "profile", 0) != mhdSD+"IHE.MHD.Comprehensive.ProvideBundle" {
		t.Fatalf("profile %v", get(b, "meta", "profile"))
	}
	d := get(b, "entry", 1, "resource")
	if str(d, "contained", 0, "birthDate") != "1970-01-01" || str(d, "context", "sourcePatientInfo", "reference") != "#src-patient" ||
		str(d, "context", "facilityType", "coding", 0, "code") != "35971002" {
		t.Errorf("comprehensive docref %v", d)
	}
	if str(b, "entry", 0, "resource", "extension", 1, "url") != mhdSD+"ihe-designationType" {
		t.Errorf("designationType %v", get(b, "entry", 0, "resource", "extension"))
	}
	// Without a patient the fax cannot be Comprehensive: Minimal instead.
	f := testFax()
	f.MRN = ""
	m := convert(t, cfg, rawFor(t, "g4-fine-1p.tif", f))
	if str(m, "meta", "profile", 0) != mhdSD+"IHE.MHD.Minimal.ProvideBundle" {
		t.Errorf("fallback profile %v", get(m, "meta", "profile"))
	}
}

func TestConvertErrors(t *testing.T) {
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Convert(context.Background(), adapters.Raw{Name: "note.txt", Body: []byte("hello")})
	if !queue.IsPermanent(err) || !errors.Is(err, ErrNotFax) || !strings.Contains(err.Error(), "note.txt") {
		t.Errorf("text: %v", err)
	}
	bad, _ := os.ReadFile(filepath.Join(faxDir, "g4-fine-1p.tif"))
	_, err = c.Convert(context.Background(), adapters.Raw{Name: "cut.tif", Body: bad[:len(bad)-300]})
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "tiff cut.tif: page 1") {
		t.Errorf("truncated: %v", err)
	}
	for _, cfg := range []Config{{}, {SourceID: "not-an-oid"}, {Profile: "x", SourceID: "1.2"}, {SourceID: "1.2", BinaryMethod: "patch"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

// TestWriteBundleEqualsConvert: the streamed JSON is the same bundle.
func TestWriteBundleEqualsConvert(t *testing.T) {
	c, _ := New(testConfig())
	for _, file := range []string{"hylafax/recvq/fax000000042.tif", "g4-strips-1p.tif"} {
		raw := rawFor(t, file, testFax())
		want, err := c.Convert(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		res, err := c.WriteBundle(context.Background(), &buf, Input{Name: raw.Name, R: bytes.NewReader(raw.Body), Size: int64(len(raw.Body))}, testFax())
		if err != nil {
			t.Fatal(err)
		}
		var got any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("streamed bundle is not JSON: %v", err)
		}
		if !reflect.DeepEqual(got, any(generic(t, want))) {
			t.Errorf("%s: streamed bundle differs from Convert", file)
		}
		if res.BundleSize != int64(buf.Len()) || res.Pages == 0 || res.Format != FormatTIFF || res.PatientKey != fhir.PatientKey("urn:oid:2.16.840.1.113883.3.999.1", "MRN-0042") ||
			res.DocumentID != str(got, "entry", 1, "resource", "masterIdentifier", "value") {
			t.Errorf("result %+v", res)
		}
	}
}

// TestWriteBundleDetectsChange: content that changes between the hash pass
// and the write pass is an error, never a bundle with a wrong hash.
func TestWriteBundleDetectsChange(t *testing.T) {
	c, _ := New(testConfig())
	body, _ := os.ReadFile(filepath.Join(faxDir, "g4-fine-1p.tif"))
	r := &flipReader{data: body}
	_, err := c.WriteBundle(context.Background(), new(bytes.Buffer), Input{Name: "x.tif", R: r, Size: int64(len(body))}, Fax{Received: received})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
}

// flipReader changes its last byte once the file has been read through.
type flipReader struct {
	data  []byte
	reads int
}

func (f *flipReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) >= int64(len(f.data)) {
		f.reads++
		if f.reads == 3 { // after the hash pass over the original
			f.data = bytes.Clone(f.data)
			f.data[len(f.data)-1] ^= 0xff
		}
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

// TestBundlesValidateWithMedplum runs the CI's validator (@medplum/core
// validateResource) over each profile's bundle.
func TestBundlesValidateWithMedplum(t *testing.T) {
	validator, _ := filepath.Abs("../../../.ci/exchange/validate.mjs")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(validator), "node_modules", "@medplum")); err != nil {
		t.Skip("run npm ci in .ci/exchange first")
	}
	dir := t.TempDir()
	for _, profile := range []string{ProfileMHDMinimal, ProfileMHDComprehensive, ProfileUSCore} {
		cfg := testConfig()
		cfg.Profile = profile
		cfg.FacilityType = "http://snomed.info/sct|35971002|Ambulatory care site"
		cfg.PracticeSetting = "http://snomed.info/sct|394802001|General medicine"
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Convert(context.Background(), rawFor(t, "hylafax/recvq/fax000000042.tif", testFax()))
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(b)
		if err := os.WriteFile(filepath.Join(dir, profile+".json"), js, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("node", "--experimental-websocket", validator, dir)
	cmd.Dir = filepath.Dir(validator)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("validate.mjs: %v\n%s", err, out)
	}
}

func writePDF(t *testing.T, file string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(faxDir, file))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tiffpdf.Read(bytes.NewReader(body), int64(len(body)), file)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := tiffpdf.WritePDF(&buf, bytes.NewReader(body), f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPatientLink: how the documents and the SubmissionSet refer to the
// fax's patient in each patient_link mode, and the default.
func TestPatientLink(t *testing.T) {
	for _, tc := range []struct {
		legacy  bool
		mode    string
		wantRef string // "urn": the Patient entry's fullUrl
	}{
		{mode: "", wantRef: "urn"},
		{mode: PatientLinkMatch, wantRef: "urn"},
		{mode: PatientLinkConditional, wantRef: "Patient?" + mrnSearch},
		{mode: "", legacy: true, wantRef: "Patient?" + mrnSearch},
		{mode: PatientLinkIdentifier, wantRef: ""},
	} {
		t.Run(tc.mode+map[bool]string{true: "/patient_conditional_ref"}[tc.legacy], func(t *testing.T) {
			cfg := testConfig()
			cfg.PatientConditionalRef = tc.legacy
			cfg.PatientLink = tc.mode
			b := convert(t, cfg, rawFor(t, "g4-fine-1p.tif", testFax()))
			es := get(b, "entry").([]any)
			var patients []any
			for _, e := range es {
				if str(e, "resource", "resourceType") == "Patient" {
					patients = append(patients, e)
				}
			}
			want := tc.wantRef
			if want == "urn" {
				if len(patients) != 1 {
					t.Fatalf("%d Patient entries, want 1", len(patients))
				}
				p := patients[0]
				want = str(p, "fullUrl")
				if !strings.HasPrefix(want, "urn:uuid:") || str(p, "request", "method") != "POST" || str(p, "request", "url") != "Patient" ||
					str(p, "request", "ifNoneExist") != mrnSearch {
					t.Errorf("patient entry %v %v", str(p, "fullUrl"), get(p, "request"))
				}
				r := get(p, "resource")
				if str(r, "identifier", 0, "value") != "MRN-0042" || str(r, "birthDate") != "1970-01-01" || str(r, "name", 0, "text") != "TEST PATIENT" ||
					get(r, "name", 0, "family") != nil || str(r, "gender") != "unknown" || str(r, "meta", "security", 0, "code") != "N" {
					t.Errorf("patient %v", r)
				}
			} else if len(patients) != 0 {
				t.Fatalf("%d Patient entries, want none", len(patients))
			}
			for _, e := range es {
				switch str(e, "resource", "resourceType") {
				case "DocumentReference", "List":
					if got := str(e, "resource", "subject", "reference"); got != want {
						t.Errorf("%s subject reference %q, want %q", str(e, "resource", "resourceType"), got, want)
					}
					if str(e, "resource", "subject", "identifier", "value") != "MRN-0042" {
						t.Errorf("%s subject identifier %v", str(e, "resource", "resourceType"), get(e, "resource", "subject"))
					}
				}
			}
		})
	}
	// No MRN: no subject and no Patient, whatever the mode.
	f := testFax()
	f.MRN = ""
	b := convert(t, testConfig(), rawFor(t, "g4-fine-1p.tif", f))
	for _, e := range get(b, "entry").([]any) {
		if str(e, "resource", "resourceType") == "Patient" || get(e, "resource", "subject") != nil {
			t.Errorf("a fax without an MRN names a patient: %v", e)
		}
	}
	// "Family, Given" is split; the name stays as text too.
	if n := matchPatient(testConfig(), Fax{MRN: "1", PatientName: "Roe, Jane Ann"}, nil).Name[0]; n.Family != "Roe" || strings.Join(n.Given, " ") != "Jane Ann" || n.Text != "Roe, Jane Ann" {
		t.Errorf("name %+v", n)
	}
	// An MRN with '|' or ',' is escaped in the search, so it cannot name
	// another patient.
	f = testFax()
	f.MRN = "A|B,C"
	match := testConfig()
	match.PatientConditionalRef, match.PatientLink = false, PatientLinkMatch
	for _, e := range get(convert(t, match, rawFor(t, "g4-fine-1p.tif", f)), "entry").([]any) {
		if str(e, "resource", "resourceType") == "Patient" {
			if got := str(e, "request", "ifNoneExist"); got != "identifier=urn%3Aoid%3A2.16.840.1.113883.3.999.1%7CA%5C%7CB%5C%2CC" {
				t.Errorf("ifNoneExist = %s", got)
			}
		}
	}
	bad := testConfig()
	bad.PatientLink = "maybe"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "patient_link") {
		t.Errorf("patient_link maybe: %v", err)
	}
	bad.PatientLink = PatientLinkIdentifier // with patient_conditional_ref: true
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "contradicts") {
		t.Errorf("contradiction: %v", err)
	}
}
