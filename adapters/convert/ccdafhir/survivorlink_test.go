package ccdafhir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

// TestSurvivorKeepsReplacesLink: the ADT feed registers MRN-OLD1 and
// MRN-RES1 and an A40 merges MRN-OLD1 into MRN-RES1, posted to the
// stand-in exchange in the write modes the gateway pairs (HL7 v2 ids with
// C-CDA ids, patient-conditional with patient-conditional); then a C-CDA
// about the survivor, MRN-RES1, arrives (twice). Its Patient is written
// whole (PUT) and must keep the survivor's replaces link to the merged
// record, as the A40 wrote it: without it the exchange keeps no way from
// the survivor to what it holds filed to MRN-OLD1 (FHIR Patient.link
// "replaces"; IHE PMIR). The C-CDA sent again adds no second link.
func TestSurvivorKeepsReplacesLink(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/convert/ccda-result/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	adt := func(trig, id, mrn, family string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240101120000||ADT^" + trig + "^ADT_A01|" + id + "|P|2.5\r" +
			"EVN|" + trig + "|20240101120000\r" +
			"PID|1||" + mrn + "^^^&2.16.840.1.113883.19.5.99999.2&ISO^MR||" + family + "^Eve||19750501|F\r"
	}
	a40 := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|L40|P|2.5\r" +
		"EVN|A40|20240321085900\r" +
		"PID|1||MRN-RES1^^^&2.16.840.1.113883.19.5.99999.2&ISO^MR||Everywoman^Eve||19750501|F\r" +
		"MRG|MRN-OLD1^^^&2.16.840.1.113883.19.5.99999.2&ISO^MR\r"
	ex := standin.Start(t)
	for _, mode := range []struct {
		name string
		v2   v2fhir.Mode
		ccda Mode
	}{{"ids", v2fhir.ModeID, ModePutID}, {"patient-conditional", v2fhir.ModePatientConditional, ModePatientConditional}} {
		t.Run(mode.name, func(t *testing.T) {
			ex.Reset(t)
			reg, err := merges.Open(filepath.Join(t.TempDir(), merges.FileName), merges.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			v2 := &v2fhir.Converter{Mode: mode.v2, Merges: reg}
			for _, msg := range []string{adt("A04", "L1", "MRN-OLD1", "Oldname"), adt("A04", "L2", "MRN-RES1", "Everywoman"), a40} {
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
				ex.Post(t, parts...)
			}
			for round := 0; round < 2; round++ {
				b, _, err := ConvertBytes(raw, Options{Mode: mode.ccda, Merges: reg})
				if err != nil {
					t.Fatal(err)
				}
				parts, err := Parts(b, mode.ccda, 8)
				if err != nil {
					t.Fatal(err)
				}
				ex.Post(t, parts...)
			}
			surv, retired := ex.Patient(t, mrnSystem, "MRN-RES1"), ex.Patient(t, mrnSystem, "MRN-OLD1")
			if given := fmt.Sprint(surv["telecom"]); !strings.Contains(given, "pat@example.org") {
				t.Errorf("survivor's telecom %s: the C-CDA was not applied", given)
			}
			if fmt.Sprint(retired["active"]) != "false" || !strings.Contains(fmt.Sprint(retired["link"]), "replaced-by") {
				t.Errorf("retired record: active %v, link %v; want inactive, replaced-by", retired["active"], retired["link"])
			}
			links, _ := surv["link"].([]any)
			if len(links) != 1 || !standin.Replaces(surv, retired, mrnSystem, "MRN-OLD1") {
				t.Errorf("survivor's links %v, want one replaces to the record of MRN-OLD1 (Patient/%v)", surv["link"], retired["id"])
			}
		})
	}
}
