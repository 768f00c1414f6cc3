package ccdafhir

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

// TestExchangeRetiredMRNFilesToSurvivor: at the stand-in exchange (Medplum)
// the survivor MRN-SURV1 and the record an A40 retired, MRN-RES1
// (inactive), are stored. A C-CDA still naming MRN-RES1, in the write
// modes the gateway uses for C-CDA (ids, patient-conditional; a whole
// ModeConditional document is more conditional entries than Medplum
// takes in one transaction, merge or not), sent twice, files every entry to the
// survivor, leaves both Patients as they were (no new Patient, the
// survivor's name not overwritten, the retired record still inactive),
// and files nothing to the retired record.
func TestExchangeRetiredMRNFilesToSurvivor(t *testing.T) {
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
	for _, mode := range []Mode{ModePutID, ModePatientConditional} {
		t.Run(map[Mode]string{ModePutID: "ids", ModePatientConditional: "patient-conditional"}[mode], func(t *testing.T) {
			ex := standin.Start(t)
			create := func(mrn, family string, active bool) string {
				js, _ := json.Marshal(map[string]any{"resourceType": "Patient", "active": active, "gender": "female",
					"identifier": []fhir.Identifier{{System: mrnSystem, Value: mrn}}, "name": []fhir.HumanName{{Family: family}}})
				return ex.Do(t, "POST", ex.URL+"/Patient", js)["id"].(string)
			}
			surv, retired := create("MRN-SURV1", "Survivor", true), create("MRN-RES1", "Retired", false)
			b, _, err := ConvertBytes(raw, Options{Mode: mode, Merges: reg})
			if err != nil {
				t.Fatal(err)
			}
			parts, err := Parts(b, mode, 8)
			if err != nil {
				t.Fatal(err)
			}
			for round := 0; round < 2; round++ {
				for _, p := range parts {
					js, err := json.Marshal(p)
					if err != nil {
						t.Fatal(err)
					}
					ex.Do(t, "POST", ex.URL, js)
				}
			}
			if n := ex.Count(t, "Patient"); n != 2 {
				t.Errorf("%d Patients stored, want the survivor and the retired record only", n)
			}
			if p := ex.Do(t, "GET", ex.URL+"/Patient/"+surv, nil); p["name"].([]any)[0].(map[string]any)["family"] != "Survivor" {
				t.Errorf("the survivor was rewritten: %v", p["name"])
			}
			if p := ex.Do(t, "GET", ex.URL+"/Patient/"+retired, nil); p["active"] != false || p["name"].([]any)[0].(map[string]any)["family"] != "Retired" {
				t.Errorf("the retired record was rewritten: %v %v", p["active"], p["name"])
			}
			count := func(typ, patient string) int {
				res := ex.Do(t, "GET", ex.URL+"/"+typ+"?subject="+url.QueryEscape("Patient/"+patient), nil)
				e, _ := res["entry"].([]any)
				return len(e)
			}
			for _, typ := range []string{"Observation", "DocumentReference"} {
				if n := count(typ, surv); n == 0 {
					t.Errorf("no %s filed to the survivor", typ)
				}
				if n := count(typ, retired); n != 0 {
					t.Errorf("%d %s filed to the retired record", n, typ)
				}
			}
		})
	}
}
