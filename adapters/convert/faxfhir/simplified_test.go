package faxfhir

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

func simplifiedConfig() Config {
	cfg := testConfig()
	cfg.Profile = ProfileMHDSimplified
	cfg.PatientConditionalRef = false
	return cfg
}

// TestSimplifiedPublishTIFF: under mhd-simplified a TIFF fax that names
// its patient is one IHE MHD ITI-105 DocumentReference: the PDF
// rendition inline (attachment.data, no url) with its SHA-1 and size,
// the masterIdentifier the ITI-65 bundle gives the same fax (so the
// document is the same one whichever way it is published), no identifier
// (the recipient assigns the entryUUID), status current, and the patient
// as a logical reference. Result asks for a conditional create on the
// masterIdentifier.
func TestSimplifiedPublishTIFF(t *testing.T) {
	c, err := New(simplifiedConfig())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := c.WriteRaw(context.Background(), &out, rawFor(t, "hylafax/recvq/fax000000042.tif", testFax()))
	if err != nil {
		t.Fatal(err)
	}
	var dr map[string]any
	if err := json.Unmarshal(out.Bytes(), &dr); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if str(dr, "resourceType") != "DocumentReference" || str(dr, "meta", "profile", 0) != mhdSD+"IHE.MHD.SimplifiedPublish.DocumentReference" {
		t.Fatalf("resource %s, profile %v", str(dr, "resourceType"), get(dr, "meta", "profile"))
	}
	if res.Create != "DocumentReference" || res.SubmissionSetID != "" || res.BundleSize != int64(out.Len()) {
		t.Errorf("result: create %q, submission set %q, size %d of %d", res.Create, res.SubmissionSetID, res.BundleSize, out.Len())
	}
	master := str(dr, "masterIdentifier", "value")
	if !strings.HasPrefix(master, "urn:oid:2.25.") || master != res.DocumentID ||
		res.IfNoneExist != fhir.IdentifierQuery(rfc3986, master) {
		t.Errorf("masterIdentifier %q, DocumentID %q, IfNoneExist %q", master, res.DocumentID, res.IfNoneExist)
	}
	if get(dr, "identifier") != nil || str(dr, "status") != "current" {
		t.Errorf("identifier %v (want none), status %q", get(dr, "identifier"), str(dr, "status"))
	}
	if get(dr, "subject", "reference") != nil || str(dr, "subject", "identifier", "value") != "MRN-0042" ||
		str(dr, "subject", "identifier", "system") != "urn:oid:2.16.840.1.113883.3.999.1" {
		t.Errorf("subject: %v", get(dr, "subject"))
	}
	if n := len(get(dr, "content").([]any)); n != 1 {
		t.Fatalf("%d contents, want 1", n)
	}
	att := get(dr, "content", 0, "attachment")
	if str(att, "contentType") != "application/pdf" || get(att, "url") != nil || get(dr, "relatesTo") != nil {
		t.Errorf("attachment %s url %v, relatesTo %v", str(att, "contentType"), get(att, "url"), get(dr, "relatesTo"))
	}
	pdf, err := base64.StdEncoding.DecodeString(str(att, "data"))
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("attachment.data is not a base64 PDF (%v)", err)
	}
	sum := sha1.Sum(pdf)
	if str(att, "hash") != base64.StdEncoding.EncodeToString(sum[:]) || get(att, "size") != float64(len(pdf)) || res.PDFSize != int64(len(pdf)) {
		t.Errorf("hash %s size %v, want the data's (%d bytes)", str(att, "hash"), get(att, "size"), len(pdf))
	}

	// The same fax as an ITI-65 bundle: the same document, the same PDF.
	mcfg := simplifiedConfig()
	mcfg.Profile, mcfg.PatientLink = ProfileMHDMinimal, PatientLinkIdentifier
	b := convert(t, mcfg, rawFor(t, "hylafax/recvq/fax000000042.tif", testFax()))
	if got := str(b, "entry", 1, "resource", "masterIdentifier", "value"); got != master {
		t.Errorf("ITI-65 masterIdentifier %q, ITI-105 %q", got, master)
	}
	if got := str(b, "entry", 3, "resource", "data"); got != str(att, "data") {
		t.Errorf("the ITI-65 PDF Binary differs from the ITI-105 attachment")
	}
}

// TestSimplifiedPublishFallsBackToMinimal: Simplified Publish needs a
// patient (subject 1..1); a fax that names none goes as an ITI-65
// Minimal bundle with its SubmissionSet, not as a create.
func TestSimplifiedPublishFallsBackToMinimal(t *testing.T) {
	c, err := New(simplifiedConfig())
	if err != nil {
		t.Fatal(err)
	}
	fax := testFax()
	fax.MRN = ""
	var out bytes.Buffer
	res, err := c.WriteRaw(context.Background(), &out, rawFor(t, "hylafax/recvq/fax000000042.tif", fax))
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if str(b, "resourceType") != "Bundle" || str(b, "meta", "profile", 0) != mhdSD+"IHE.MHD.Minimal.ProvideBundle" ||
		res.Create != "" || res.SubmissionSetID == "" {
		t.Fatalf("got %s %v, create %q, submission set %q", str(b, "resourceType"), get(b, "meta", "profile"), res.Create, res.SubmissionSetID)
	}
	// keep_original defaults to false under mhd-simplified, even here.
	var kinds []string
	for _, e := range get(b, "entry").([]any) {
		kinds = append(kinds, str(e, "resource", "resourceType"))
	}
	if strings.Join(kinds, ",") != "List,DocumentReference,Binary" {
		t.Errorf("entries %v", kinds)
	}
}

// TestSimplifiedPublishConfig: what cannot ride in one create is refused
// by name.
func TestSimplifiedPublishConfig(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.PatientLink = PatientLinkMatch }, "patient_link: match needs a transaction"},
		{func(c *Config) { c.PatientConditionalRef = true }, "patient_link: conditional-reference needs a transaction"},
		{func(c *Config) { c.KeepOriginal = &yes }, "keep_original: mhd-simplified"},
		{func(c *Config) {}, ""},
		{func(c *Config) { c.PatientLink = PatientLinkIdentifier }, ""},
	} {
		cfg := simplifiedConfig()
		tc.edit(&cfg)
		err := cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}
