package xdmfhir

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
)

// TestExchangeFilesXDMDocumentOnce posts the bundle of an XDM package's
// PDF to the Medplum stand-in exchange (.ci/exchange, over mutual TLS)
// twice, as a package dropped twice would, under each Binary method: the
// exchange holds one DocumentReference for it, found again by its
// masterIdentifier (the XDS uniqueId), and its subject is the Patient the
// exchange already held with the package's patientId. Skipped when node or
// the exchange's node_modules are missing.
func TestExchangeFilesXDMDocumentOnce(t *testing.T) {
	ex := standin.Start(t)
	do := func(method, url string, body []byte) map[string]any {
		t.Helper()
		return ex.Do(t, method, url, body)
	}
	count := func(typ string) int { return ex.Count(t, typ) }
	str := func(v any, path ...any) string {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				a, _ := v.([]any)
				if k >= len(a) {
					return ""
				}
				v = a[k]
			}
		}
		s, _ := v.(string)
		return s
	}

	pre := do("POST", ex.URL+"/Patient", []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.840.1.113883.3.999.1","value":"MRN-7"}],"name":[{"family":"Known"}]}`))
	preRef := "Patient/" + str(pre, "id")
	entry := Entry{
		UniqueID: "1.2.840.99999.7.2", MimeType: "application/pdf", SubmissionTime: "20260301090000", CreationTime: "20260228153000",
		TypeCode:        &Code{"57133-1", "2.16.840.1.113883.6.1", "Referral note"},
		ClassCode:       &Code{"REFERRAL", "1.3.6.1.4.1.21367.100.1", "Referral"},
		Confidentiality: []Code{{"N", "2.16.840.1.113883.5.25", "normal"}},
		PatientID:       "MRN-7^^^&2.16.840.1.113883.3.999.1&ISO", PatientName: "Roe^Jane", Title: "Referral to cardiology",
	}
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	for _, method := range []string{faxfhir.BinaryPost, faxfhir.BinaryPut} {
		docs, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1", BinaryMethod: method})
		if err != nil {
			t.Fatal(err)
		}
		c := &Converter{Docs: docs}
		meta := maps.Clone(entry.Meta())
		var body bytes.Buffer
		if _, err := c.WriteRaw(context.Background(), &body, adapters.Raw{Name: "direct.zip: IHE_XDM/SUBSET01/DOC0002.PDF", Body: pdf, Meta: meta}); err != nil {
			t.Fatal(err)
		}
		// The second method's bundle is the same document too: it finds
		// the first method's DocumentReference.
		first := do("POST", ex.URL, body.Bytes())
		do("POST", ex.URL, body.Bytes())
		if n := count("DocumentReference"); n != 1 {
			t.Errorf("binary %s: %v DocumentReferences after the document was posted twice, want 1", method, n)
		}
		if n := count("Patient"); n != 1 {
			t.Errorf("binary %s: %v Patients at the exchange, want only the one it held", method, n)
		}
		found := do("GET", ex.URL+"/DocumentReference?identifier=urn:ietf:rfc:3986%7Curn:oid:1.2.840.99999.7.2", nil)
		if got := len(found["entry"].([]any)); got != 1 {
			t.Errorf("binary %s: %d DocumentReferences with the uniqueId, want 1", method, got)
		}
		for i := range first["entry"].([]any) {
			loc := str(first, "entry", i, "response", "location")
			if !strings.HasPrefix(loc, "DocumentReference/") {
				continue
			}
			d := do("GET", ex.URL+"/"+loc, nil)
			if got := str(d, "subject", "reference"); got != preRef {
				t.Errorf("binary %s: subject %q, want the exchange's own %s", method, got, preRef)
			}
			if url := str(d, "content", 0, "attachment", "url"); !strings.HasPrefix(url, "Binary/") {
				t.Errorf("binary %s: attachment.url %q not rewritten", method, url)
			}
		}
	}
}

// TestBundlesValidateWithMedplum runs the CI's validator (@medplum/core
// validateResource) over an XDM document's bundle under each profile, with
// a patient and without one.
func TestBundlesValidateWithMedplum(t *testing.T) {
	validator, _ := filepath.Abs("../../../.ci/exchange/validate.mjs")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(validator), "node_modules", "@medplum")); err != nil {
		t.Skip("run npm ci in .ci/exchange first")
	}
	dir := t.TempDir()
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	for _, profile := range []string{faxfhir.ProfileMHDMinimal, faxfhir.ProfileMHDComprehensive, faxfhir.ProfileUSCore} {
		for _, pid := range []string{"MRN-7^^^&2.16.840.1.113883.3.999.1&ISO", ""} {
			docs, err := faxfhir.New(faxfhir.Config{Profile: profile, SourceID: "1.3.6.1.4.1.21367.2026.1",
				FacilityType: "http://snomed.info/sct|35971002|Ambulatory care site", PracticeSetting: "http://snomed.info/sct|394802001|General medicine"})
			if err != nil {
				t.Fatal(err)
			}
			e := Entry{UniqueID: "1.2.840.99999.7.2", MimeType: "application/pdf", CreationTime: "20260228153000", LanguageCode: "en-US",
				TypeCode: &Code{"REF", "1.2.840.99999.44", "Referral (local)"}, ClassCode: &Code{"REFERRAL", "1.3.6.1.4.1.21367.100.1", "Referral"},
				Confidentiality: []Code{{"R", "2.16.840.1.113883.5.25", "restricted"}},
				Authors:         []Author{{Institutions: []string{"Riverside Cardiology^^^^^&1.2.840.99999&ISO^^^^RC-1"}, Person: "1234^Smith^John"}},
				PatientID:       pid, SourcePatientID: "LOCAL-7^^^&1.2.840.99999.3&ISO", PatientName: "Roe^Jane", PatientBirthDate: "19700101", Title: "Referral"}
			var body bytes.Buffer
			if _, err := (&Converter{Docs: docs}).WriteRaw(context.Background(), &body, adapters.Raw{Name: "doc.pdf", Body: pdf, Meta: e.Meta()}); err != nil {
				t.Fatal(err)
			}
			name := profile + map[bool]string{true: "-patient", false: "-nopatient"}[pid != ""] + ".json"
			if err := os.WriteFile(filepath.Join(dir, name), body.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command("node", "--experimental-websocket", validator, dir)
	cmd.Dir = filepath.Dir(validator)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("validate.mjs: %v\n%s", err, out)
	}
}

// TestExchangeSourceIDChangesNothingTwice posts an XDM document's bundle
// and a fax's to the stand-in exchange as a gateway before this change
// made them (every SubmissionSet under fax.source_id), then as it makes
// them now (the package's own sourceId, the fax folder's own source_id):
// the exchange creates nothing the second time, since no identifier
// derives from the sourceId. A new package under its own sourceId is
// stored with it.
func TestExchangeSourceIDChangesNothingTwice(t *testing.T) {
	ex := standin.Start(t)
	const faxSource, folderSource, pkgSource = "1.3.6.1.4.1.21367.2026.1", "1.3.6.1.4.1.21367.2026.2", "1.2.840.99999.1"
	before, err := faxfhir.New(faxfhir.Config{SourceID: faxSource, BinaryMethod: faxfhir.BinaryPut})
	if err != nil {
		t.Fatal(err)
	}
	now, err := before.WithFolderSourceIDs(map[string]string{"cloudfax": folderSource})
	if err != nil {
		t.Fatal(err)
	}
	tif, err := os.ReadFile("../../../testdata/fax/g4-fine-1p.tif")
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	entry := Entry{UniqueID: "1.2.840.99999.7.3", MimeType: "application/pdf", SubmissionTime: "20260301090000", SourceID: pkgSource}
	bundles := func(docs *faxfhir.Converter, e Entry) (xdm, fax []byte) {
		t.Helper()
		var b bytes.Buffer
		meta := e.Meta()
		meta["folder"] = "ehr"
		if _, err := (&Converter{Docs: docs}).WriteRaw(context.Background(), &b, adapters.Raw{Name: "direct.zip: DOC0001.PDF", Body: pdf, Meta: meta}); err != nil {
			t.Fatal(err)
		}
		xdm = bytes.Clone(b.Bytes())
		b.Reset()
		if _, err := docs.WriteRaw(context.Background(), &b, adapters.Raw{Name: "fax.tif", Body: tif, Meta: map[string]string{"folder": "cloudfax"}}); err != nil {
			t.Fatal(err)
		}
		return xdm, b.Bytes()
	}
	old := entry
	old.SourceID = "" // a gateway before this change did not read it
	oldXDM, oldFax := bundles(before, old)
	newXDM, newFax := bundles(now, entry)
	if bytes.Equal(oldXDM, newXDM) || bytes.Equal(oldFax, newFax) {
		t.Fatal("the sourceIds did not change the bundles")
	}
	for _, b := range [][]byte{oldXDM, oldFax} {
		ex.Do(t, "POST", ex.URL, b)
	}
	counts := func() [3]int {
		return [3]int{ex.Count(t, "DocumentReference"), ex.Count(t, "List"), ex.Count(t, "Binary")}
	}
	was := counts()
	if was[0] != 3 || was[1] != 2 { // the fax's PDF and TIFF, the XDM document; a SubmissionSet each
		t.Fatalf("DocumentReferences, Lists, Binaries %v after the first sends", was)
	}
	for _, b := range [][]byte{newXDM, newFax} {
		ex.Do(t, "POST", ex.URL, b)
	}
	if got := counts(); got != was {
		t.Errorf("DocumentReferences, Lists, Binaries %v after the re-send under the new sourceIds, %v before", got, was)
	}

	// Another package, first sent now: its SubmissionSet carries its
	// sender's sourceId.
	entry.UniqueID = "1.2.840.99999.7.4"
	other := append(bytes.Clone(pdf), "% another\n"...)
	var b bytes.Buffer
	meta := entry.Meta()
	meta["folder"] = "ehr"
	if _, err := (&Converter{Docs: now}).WriteRaw(context.Background(), &b, adapters.Raw{Name: "direct2.zip: DOC0001.PDF", Body: other, Meta: meta}); err != nil {
		t.Fatal(err)
	}
	resp := ex.Do(t, "POST", ex.URL, b.Bytes())
	found := false
	for _, e := range resp["entry"].([]any) {
		loc, _ := e.(map[string]any)["response"].(map[string]any)["location"].(string)
		if !strings.HasPrefix(loc, "List/") {
			continue
		}
		list := ex.Do(t, "GET", ex.URL+"/"+strings.SplitN(loc, "/_history", 2)[0], nil)
		for _, x := range list["extension"].([]any) {
			x := x.(map[string]any)
			if strings.HasSuffix(x["url"].(string), "/ihe-sourceId") {
				found = true
				if v := x["valueIdentifier"].(map[string]any)["value"]; v != "urn:oid:"+pkgSource {
					t.Errorf("the stored SubmissionSet's ihe-sourceId is %v, want urn:oid:%s", v, pkgSource)
				}
			}
		}
	}
	if !found {
		t.Errorf("no stored SubmissionSet with an ihe-sourceId in %v", resp)
	}
}
