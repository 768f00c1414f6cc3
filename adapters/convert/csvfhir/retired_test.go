package csvfhir

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

// retiredRegistry is a merge registry in which an A40 merged MRN 123
// into 999.
func retiredRegistry(t *testing.T) *merges.Registry {
	t.Helper()
	r, err := merges.Open(filepath.Join(t.TempDir(), "merges.log"), merges.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Record(merges.Merge{Retired: merges.ID{System: mrnSystem, Value: "123"},
		Survivor: merges.ID{System: mrnSystem, Value: "999"}}); err != nil {
		t.Fatal(err)
	}
	return r
}

var csvModes = map[string]Mode{"ids": ModeIDs, "conditional": ModeConditional, "patient-conditional": ModePatientConditional}

// TestRowsUnderRetiredMRNGoToSurvivor: after an A40 merged MRN 123 into
// 999, an export that still names 123 files its rows to 999 in every
// write mode: ordered under the survivor's key, referring to the
// survivor (Patient/<id> the merge's PID wrote, or a conditional create
// of 999), as the same rows exported under 999 would; the retired
// record is named nowhere. Another patient's rows are untouched.
func TestRowsUnderRetiredMRNGoToSurvivor(t *testing.T) {
	m := &Mapping{Match: "proc.csv", Resource: "Procedure", TimeZone: "UTC",
		Patient: &ColumnIdentifier{Column: "MRN", System: mrnSystem},
		Columns: Columns{{Header: "Code", Path: "code"}, {Header: "System", Path: "code.system"},
			{Header: "Done", Path: "performedDateTime"}}}
	const csv = "MRN,Code,System,Done\n" +
		"123,80146002,snomed,2024-03-04\n" +
		"456,80146002,snomed,2024-03-04\n" +
		"123,80146002,snomed,2024-09-12\n"
	for name, mode := range csvModes {
		t.Run(name, func(t *testing.T) {
			reg := retiredRegistry(t)
			parts, err := Convert([]byte(csv), m, Options{Mode: mode, Merges: reg})
			if err != nil {
				t.Fatal(err)
			}
			want, err := Convert([]byte(strings.ReplaceAll(csv, "123,", "999,")), m, Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != 2 || len(want) != 2 {
				t.Fatalf("%d parts, %d under the survivor", len(parts), len(want))
			}
			p := parts[0]
			if p.Retied != 1 || p.PatientKey != fhir.PatientKey(mrnSystem, "999") {
				t.Errorf("Retied %d, key %s: want 1 and the survivor's key", p.Retied, p.PatientKey)
			}
			if parts[1].Retied != 0 || parts[1].PatientKey != fhir.PatientKey(mrnSystem, "456") {
				t.Errorf("another patient: Retied %d, key %s", parts[1].Retied, parts[1].PatientKey)
			}
			got, _ := json.Marshal(p.Bundle)
			exp, _ := json.Marshal(want[0].Bundle)
			if string(got) != string(exp) {
				t.Errorf("rows under the retired MRN:\n%s\nwant what the survivor's rows make:\n%s", got, exp)
			}
			if strings.Contains(string(got), `"123"`) || strings.Contains(string(got), "%7C123") {
				t.Errorf("the bundle names the retired MRN: %s", got)
			}
			if mode == ModeIDs && !strings.Contains(string(got), `"Patient/`+v2fhir.ResourceID("Patient", mrnSystem, "999")+`"`) {
				t.Errorf("subject is not the survivor's Patient/<id>: %s", got)
			}
		})
	}
}

// TestPatientRowUnderRetiredMRN: a patients export that still has a row
// for the retired MRN 123 never writes it: the retired record stays
// inactive and replaced-by the survivor, and the survivor keeps its own
// demographics. Where the exchange chooses ids the row only finds the
// survivor (a conditional create of 999, the row's name, gender and
// birth date written only if the exchange has no 999); by ids it writes
// nothing, as the HL7 v2 converter does. A row of the survivor itself in
// the same file wins over the retired one, whichever comes first.
func TestPatientRowUnderRetiredMRN(t *testing.T) {
	const stale = "MRN,Last,First,Sex,DOB\n123,Stale,Ann,F,1970-01-01\n"
	for name, mode := range csvModes {
		t.Run(name, func(t *testing.T) {
			reg := retiredRegistry(t)
			parts, err := Convert([]byte(stale), patientsMapping(), Options{Mode: mode, Merges: reg})
			if err != nil {
				t.Fatal(err)
			}
			if mode == ModeIDs {
				if len(parts) != 0 {
					t.Errorf("a Patient row under the retired MRN writes %+v", parts[0].Bundle.Entry[0].Request)
				}
			} else {
				if len(parts) != 1 || len(parts[0].Bundle.Entry) != 1 {
					t.Fatalf("%d parts", len(parts))
				}
				e := parts[0].Bundle.Entry[0]
				pt := e.Resource.(*fhir.Patient)
				if e.Request.Method != "POST" || e.Request.IfNoneExist != fhir.IdentifierQuery(mrnSystem, "999") ||
					len(pt.Identifier) != 1 || pt.Identifier[0].Value != "999" || parts[0].Retied != 1 ||
					parts[0].PatientKey != fhir.PatientKey(mrnSystem, "999") {
					t.Errorf("entry %+v %+v, want the survivor's conditional create", e.Request, pt.Identifier)
				}
			}
			for _, csv := range []string{
				stale + "999,Real,Ann,F,1970-01-01\n",
				"MRN,Last,First,Sex,DOB\n999,Real,Ann,F,1970-01-01\n123,Stale,Ann,F,1970-01-01\n",
			} {
				parts, err := Convert([]byte(csv), patientsMapping(), Options{Mode: mode, Merges: reg})
				if err != nil {
					t.Fatal(err)
				}
				if len(parts) != 1 || len(parts[0].Bundle.Entry) != 1 {
					t.Fatalf("%d parts", len(parts))
				}
				e := parts[0].Bundle.Entry[0]
				if pt := e.Resource.(*fhir.Patient); e.Request.Method != "PUT" || pt.Name[0].Family != "Real" {
					t.Errorf("%s %s: the survivor's row lost to the retired one", e.Request.Method, pt.Name[0].Family)
				}
			}
		})
	}
}
