package csvfhir

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

// TestSurvivorKeepsReplacesLink: the ADT feed registers MRN 123 and 999
// and an A40 merges 123 into 999, posted to the stand-in exchange in
// each write mode (the CSV path writes as the HL7 v2 path does); then a
// patients export with a row for the survivor, 999, arrives (twice). The
// row writes the Patient whole (PUT, or a conditional update) and must
// keep the survivor's replaces link to the merged record, as the A40
// wrote it: without it the exchange keeps no way from the survivor to
// what it holds filed to 123 (FHIR Patient.link "replaces"; IHE PMIR).
// The file sent again adds no second link.
func TestSurvivorKeepsReplacesLink(t *testing.T) {
	adt := func(trig, id, mrn, family string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240101120000||ADT^" + trig + "^ADT_A01|" + id + "|P|2.5\r" +
			"EVN|" + trig + "|20240101120000\r" +
			"PID|1||" + mrn + "^^^&2.16.840.1.113883.3.7777.1&ISO^MR||" + family + "^Ann||19700101|F\r"
	}
	a40 := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|L40|P|2.5\r" +
		"EVN|A40|20240321085900\r" +
		"PID|1||999^^^&2.16.840.1.113883.3.7777.1&ISO^MR||Real^Ann||19700101|F\r" +
		"MRG|123^^^&2.16.840.1.113883.3.7777.1&ISO^MR\r"
	const csv = "MRN,Last,First,Sex,DOB\n999,Real,Ann,F,1970-01-01\n"
	ex := standin.Start(t)
	for _, mode := range []struct {
		name string
		v2   v2fhir.Mode
		csv  Mode
	}{{"ids", v2fhir.ModeID, ModeIDs}, {"conditional", v2fhir.ModeConditional, ModeConditional},
		{"patient-conditional", v2fhir.ModePatientConditional, ModePatientConditional}} {
		t.Run(mode.name, func(t *testing.T) {
			ex.Reset(t)
			reg, err := merges.Open(filepath.Join(t.TempDir(), merges.FileName), merges.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			v2 := &v2fhir.Converter{Mode: mode.v2, Merges: reg}
			for _, msg := range []string{adt("A04", "L1", "123", "Stale"), adt("A04", "L2", "999", "Real"), a40} {
				b, res, err := v2.ConvertRaw([]byte(msg))
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range res.Merges {
					if err := reg.Record(m); err != nil {
						t.Fatal(err)
					}
				}
				parts, err := v2.Parts(b)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range parts {
					ex.Post(t, p)
				}
			}
			for round := 0; round < 2; round++ {
				parts, err := Convert([]byte(csv), patientsMapping(), Options{Mode: mode.csv, Merges: reg})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range parts {
					ex.Post(t, p.Bundle)
				}
			}
			surv, retired := ex.Patient(t, mrnSystem, "999"), ex.Patient(t, mrnSystem, "123")
			if birth := fmt.Sprint(surv["birthDate"]); birth != "1970-01-01" {
				t.Errorf("survivor's birthDate %s", birth)
			}
			if fmt.Sprint(retired["active"]) != "false" || !strings.Contains(fmt.Sprint(retired["link"]), "replaced-by") {
				t.Errorf("retired record: active %v, link %v; want inactive, replaced-by", retired["active"], retired["link"])
			}
			links, _ := surv["link"].([]any)
			if len(links) != 1 || !standin.Replaces(surv, retired, mrnSystem, "123") {
				t.Errorf("survivor's links %v, want one replaces to the record of 123 (Patient/%v)", surv["link"], retired["id"])
			}
		})
	}
}
