package ccdafhir

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

const mrnSystem = "urn:oid:2.16.840.1.113883.19.5.99999.2"

// TestDocumentUnderRetiredMRNGoesToSurvivor: after an A40 merged MRN-RES1
// into MRN-SURV1, a C-CDA from the EHR's export folder whose
// recordTarget still names MRN-RES1 is filed to MRN-SURV1 in every
// write mode: the Patient is only found (a conditional create of the
// survivor, never a PUT that would make the retired record active again,
// drop its replaced-by link, or overwrite the survivor's demographics
// with the document's), every entry refers to it, and the entries are
// the very resources of the same document naming the survivor.
func TestDocumentUnderRetiredMRNGoesToSurvivor(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/convert/ccda-result/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := merges.Open(filepath.Join(t.TempDir(), "merges.log"), merges.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.Record(merges.Merge{Retired: merges.ID{System: mrnSystem, Value: "MRN-RES1"},
		Survivor: merges.ID{System: mrnSystem, Value: "MRN-SURV1"}}); err != nil {
		t.Fatal(err)
	}
	find := fhir.IdentifierQuery(mrnSystem, "MRN-SURV1")
	for _, mode := range []Mode{ModePutID, ModeConditional, ModePatientConditional} {
		t.Run(map[Mode]string{ModePutID: "ids", ModeConditional: "conditional", ModePatientConditional: "patient-conditional"}[mode], func(t *testing.T) {
			b, res, err := ConvertBytes(raw, Options{Mode: mode, Merges: reg})
			if err != nil {
				t.Fatal(err)
			}
			if res.Retied != 1 || res.PatientKey != fhir.PatientKey(mrnSystem, "MRN-SURV1") {
				t.Errorf("Retied %d, key %s: want 1 and the survivor's key", res.Retied, res.PatientKey)
			}
			js, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(js, []byte("MRN-RES1")) {
				t.Errorf("the bundle names the retired MRN: %s", js)
			}
			var pat *fhir.BundleEntry
			for i, e := range b.Entry {
				if _, ok := e.Resource.(*fhir.Patient); ok {
					if pat != nil {
						t.Fatal("two Patient entries")
					}
					pat = &b.Entry[i]
				}
			}
			if pat == nil {
				t.Fatal("no Patient entry")
			}
			p := pat.Resource.(*fhir.Patient)
			if pat.Request.Method != "POST" || pat.Request.URL != "Patient" || pat.Request.IfNoneExist != find || p.ID != "" ||
				len(p.Identifier) != 1 || p.Identifier[0].Value != "MRN-SURV1" || len(p.Address)+len(p.Telecom)+len(p.Extension) != 0 {
				t.Errorf("Patient entry %+v %s, want only the survivor's conditional create", pat.Request, toJSON(t, p))
			}
			for _, m := range modeRefRE.FindAllStringSubmatch(string(js), -1) {
				if strings.HasPrefix(m[1], "Patient") {
					t.Errorf("reference %s: want the survivor's entry %s", m[1], pat.FullURL)
				}
			}
			if !strings.Contains(string(js), `"subject":{"reference":"`+pat.FullURL+`"}`) {
				t.Errorf("nothing refers to the survivor's entry %s", pat.FullURL)
			}
			// The document naming the survivor writes the same resources.
			want, _, err := ConvertBytes(bytes.ReplaceAll(raw, []byte("MRN-RES1"), []byte("MRN-SURV1")), Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Entry) != len(b.Entry) {
				t.Fatalf("%d entries, the survivor's document %d", len(b.Entry), len(want.Entry))
			}
			for i := range b.Entry {
				if _, ok := b.Entry[i].Resource.(*fhir.Patient); !ok && b.Entry[i].Request.URL != want.Entry[i].Request.URL {
					t.Errorf("entry %d %s, the survivor's document writes %s", i, b.Entry[i].Request.URL, want.Entry[i].Request.URL)
				}
			}
			// Cut small, each part refers only to what it or an earlier
			// part writes: the survivor's entry travels in every part
			// that refers to it.
			parts, err := Parts(b, mode, 4)
			if mode == ModeConditional {
				return // not splittable, as without a merge
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, part := range parts {
				pj, _ := json.Marshal(part)
				if strings.Contains(string(pj), `"reference":"`+pat.FullURL) && !strings.Contains(string(pj), `"fullUrl":"`+pat.FullURL) {
					t.Errorf("part %d refers to the survivor without its entry", i)
				}
			}
		})
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
