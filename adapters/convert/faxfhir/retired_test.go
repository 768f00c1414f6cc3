package faxfhir

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

const (
	testSystem   = "urn:oid:2.16.840.1.113883.3.999.1"
	survivorMRN  = "MRN-0001"
	survivorFind = "identifier=urn%3Aoid%3A2.16.840.1.113883.3.999.1%7CMRN-0001"
)

// retiredRegistry is a merge registry in which an A40 merged testFax's
// MRN-0042 into MRN-0001.
func retiredRegistry(t *testing.T) *merges.Registry {
	t.Helper()
	r, err := merges.Open(filepath.Join(t.TempDir(), "merges.log"), merges.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Record(merges.Merge{Retired: merges.ID{System: testSystem, Value: "MRN-0042"},
		Survivor: merges.ID{System: testSystem, Value: survivorMRN}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// checkSurvivor checks that a bundle filed under the retired MRN-0042
// names the survivor MRN-0001 wherever it names the patient, and the
// retired record nowhere: a search by the retired MRN would find the
// retired Patient (inactive, replaced-by the survivor) and file the
// document to it.
func checkSurvivor(t *testing.T, link string, b map[string]any) {
	t.Helper()
	var docs int
	for _, e := range get(b, "entry").([]any) {
		r := get(e, "resource")
		switch str(r, "resourceType") {
		case "Patient":
			if link != PatientLinkMatch {
				t.Errorf("%s: a Patient entry %v", link, get(e, "request"))
			}
			if str(e, "request", "method") != "POST" || str(e, "request", "ifNoneExist") != survivorFind ||
				str(r, "identifier", 0, "value") != survivorMRN || get(r, "identifier", 1) != nil {
				t.Errorf("Patient entry %v %v, want the survivor's conditional create", get(e, "request"), get(r, "identifier"))
			}
		case "DocumentReference", "List":
			docs++
			ref, id := str(r, "subject", "reference"), str(r, "subject", "identifier", "value")
			if id != survivorMRN {
				t.Errorf("%s subject identifier %q, want the survivor %s", str(r, "resourceType"), id, survivorMRN)
			}
			if link == PatientLinkConditional && ref != "Patient?"+survivorFind {
				t.Errorf("%s subject %q, want the survivor's conditional reference", str(r, "resourceType"), ref)
			}
		}
	}
	if docs == 0 {
		t.Fatal("no DocumentReference")
	}
	js, _ := json.Marshal(b)
	if strings.Contains(string(js), "MRN-0042") {
		t.Errorf("%s: the bundle still names the retired MRN: %s", link, js)
	}
}

// TestFaxUnderRetiredMRNGoesToSurvivor: after an A40 merged MRN-0042
// into MRN-0001, a fax whose sidecar still names MRN-0042 is filed to
// MRN-0001 in every patient_link mode, ordered under the survivor's key;
// in match mode the exchange is asked for the survivor, not the retired
// record.
func TestFaxUnderRetiredMRNGoesToSurvivor(t *testing.T) {
	for _, link := range []string{PatientLinkMatch, PatientLinkConditional, PatientLinkIdentifier} {
		t.Run(link, func(t *testing.T) {
			cfg := testConfig()
			cfg.PatientConditionalRef, cfg.PatientLink = false, link
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.Merges = retiredRegistry(t)
			var buf bytes.Buffer
			res, err := c.WriteRaw(context.Background(), &buf, rawFor(t, "g4-fine-1p.tif", testFax()))
			if err != nil {
				t.Fatal(err)
			}
			if res.Retied != 1 || res.PatientKey != fhir.PatientKey(testSystem, survivorMRN) {
				t.Errorf("Retied %d, key %s: want 1 and the survivor's key", res.Retied, res.PatientKey)
			}
			var b map[string]any
			if err := json.Unmarshal(buf.Bytes(), &b); err != nil {
				t.Fatal(err)
			}
			checkSurvivor(t, link, b)
			// The same fax filed to the survivor directly is the same
			// document: one fax, one DocumentReference, whichever MRN
			// the sidecar names.
			f := testFax()
			f.MRN = survivorMRN
			if got, want := pinnedIDs(b), pinnedIDs(convert(t, cfg, rawFor(t, "g4-fine-1p.tif", f))); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("ids %v, want the survivor's %v", got, want)
			}
		})
	}
	// A fax for a patient nobody merged is untouched.
	c, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	c.Merges = retiredRegistry(t)
	f := testFax()
	f.MRN = "MRN-0043"
	var buf bytes.Buffer
	res, err := c.WriteRaw(context.Background(), &buf, rawFor(t, "g4-fine-1p.tif", f))
	if err != nil || res.Retied != 0 || res.PatientKey != fhir.PatientKey(testSystem, "MRN-0043") {
		t.Errorf("unmerged patient: %v, Retied %d", err, res.Retied)
	}
}

// TestDocumentUnderRetiredIDGoesToSurvivor: the same for a document of
// an XDM package (WriteDocument), under the Comprehensive profile, whose
// sourcePatientInfo keeps the identifier the package gave.
func TestDocumentUnderRetiredIDGoesToSurvivor(t *testing.T) {
	cfg := testConfig()
	cfg.PatientConditionalRef, cfg.Profile = false, ProfileMHDComprehensive
	cfg.FacilityType = "http://snomed.info/sct|35971002|Ambulatory care site"
	cfg.PracticeSetting = "http://snomed.info/sct|394802001|General medicine"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// WithFolderSourceIDs keeps the registry.
	c.Merges = retiredRegistry(t)
	if c, err = c.WithFolderSourceIDs(map[string]string{"ehr": "1.2.3"}); err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	d := Document{Name: "x.pdf", Patient: &Patient{System: testSystem, Value: "MRN-0042", Name: "Doe, Jane"},
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pdf)), nil }}
	var buf bytes.Buffer
	res, err := c.WriteDocument(context.Background(), &buf, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Retied != 1 || res.PatientKey != fhir.PatientKey(testSystem, survivorMRN) {
		t.Errorf("Retied %d, key %s: want 1 and the survivor's key", res.Retied, res.PatientKey)
	}
	var b map[string]any
	if err := json.Unmarshal(buf.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	var src string
	for _, e := range get(b, "entry").([]any) {
		if str(e, "resource", "resourceType") == "DocumentReference" {
			src = str(e, "resource", "contained", 0, "identifier", 0, "value")
			// Checked apart: checkSurvivor wants the MRN nowhere.
			delete(get(e, "resource").(map[string]any), "contained")
		}
	}
	if src != "MRN-0042" {
		t.Errorf("sourcePatientInfo identifier %q, want the package's MRN-0042", src)
	}
	checkSurvivor(t, PatientLinkMatch, b)
}
