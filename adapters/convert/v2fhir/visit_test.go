package v2fhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// atExchange resets the stand-in exchange (Medplum's FHIR router, as
// in CI) and posts the transactions each message converts to, in order,
// cut into parts as the gateway cuts them; any refused part fails the
// test. It returns the stored resources of the types asked for, by type.
func atExchange(t *testing.T, ex *standin.Exchange, c *Converter, msgs []string, types ...string) map[string][]map[string]any {
	t.Helper()
	ex.Reset(t)
	for _, m := range msgs {
		parts, err := c.Parts(mustConvert(t, c, m))
		if err != nil {
			t.Fatal(err)
		}
		ex.Post(t, parts...)
	}
	out := map[string][]map[string]any{}
	for _, typ := range types {
		found := ex.Do(t, "GET", ex.URL+"/"+typ, nil)
		entries, _ := found["entry"].([]any)
		for _, e := range entries {
			out[typ] = append(out[typ], e.(map[string]any)["resource"].(map[string]any))
		}
	}
	return out
}

const (
	visitA01 = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101120000||ADT^A01^ADT_A01|A1|P|2.5.1\n" +
		"EVN|A01|20240101120000\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|I|W1^101^A|E|||1234^Smith^John^^^^^^HOSP|||MED||||7|||||V77^^^HOSP^VN|||||||||||||||||||||||||20240101110000\n"
	// A result whose PV1 says the visit number alone, as labs send it.
	visitORU = "MSH|^~\\&|LAB|HOSP|HIE|HIE|20240101140000||ORU^R01^ORU_R01|R1|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1||||||||||||||||||V77^^^HOSP^VN\n" +
		"OBR|1|P-1^CPOE|F-1^LAB|718-7^Hemoglobin^LN|||20240101130000|||||||||||||||20240101140000|||F\n" +
		"OBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL|||||F\n"
)

// TestNonADTKeepsVisit: an A01 with a rich PV1, then a result whose PV1
// names the visit number alone, posted to the stand-in exchange. Where the
// result refers to the visit without writing it (PatientFromADTOnly, or
// conditional mode's conditional create) the exchange ends with the one
// Encounter the A01 wrote, its status, period, location, participant and
// hospitalization intact, and the result's report refers to it. Without
// that setting, where references are literal (ids, patient-conditional),
// the result writes the visit as it writes the patient (a lab-only site
// has no other source of it): there is still one Encounter, and when the
// ADT never comes the report's reference resolves. In the other order
// (the result first) the A01 leaves one Encounter, its own. When the ADT
// never comes with PatientFromADTOnly the exchange accepts the result
// with its literal reference naming an Encounter nothing holds yet
// (Medplum does not check references on write by default).
func TestNonADTKeepsVisit(t *testing.T) {
	ex := standin.Start(t)
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		for _, adtOnly := range []bool{false, true} {
			for _, order := range [][]string{{visitA01, visitORU}, {visitORU, visitA01}, {visitORU}} {
				name := fmt.Sprintf("%s/adt-only=%v/%d-messages-result-first=%v", mode, adtOnly, len(order), order[0] == visitORU)
				c := testConverter(t)
				c.Mode, c.PatientFromADTOnly = mode, adtOnly
				got := atExchange(t, ex, c, order, "Encounter", "DiagnosticReport")
				encs, reports := got["Encounter"], got["DiagnosticReport"]
				if len(reports) != 1 {
					t.Errorf("%s: %d reports", name, len(reports))
					continue
				}
				ref, _ := reports[0]["encounter"].(map[string]any)
				refersOnly := adtOnly || mode == ModeConditional
				if len(order) == 1 {
					// No ADT: a dangling literal reference with
					// PatientFromADTOnly, else the result's own visit.
					want := map[bool]int{true: 1, false: 0}[mode == ModeConditional || !adtOnly]
					if len(encs) != want || ref == nil || !strings.HasPrefix(fmt.Sprint(ref["reference"]), "Encounter/") {
						t.Errorf("%s: %d Encounters, report's encounter %v; want %d and a reference", name, len(encs), ref, want)
					}
					continue
				}
				if len(encs) != 1 {
					t.Errorf("%s: the exchange holds %d Encounters, want 1", name, len(encs))
					continue
				}
				enc := encs[0]
				if ref == nil || ref["reference"] != "Encounter/"+fmt.Sprint(enc["id"]) {
					t.Errorf("%s: the report's encounter %v, want Encounter/%v", name, ref, enc["id"])
				}
				if !refersOnly && order[0] == visitA01 {
					continue // the result's PV1 replaced the visit: documented
				}
				for _, f := range []string{"period", "location", "participant", "hospitalization", "type"} {
					if enc[f] == nil {
						t.Errorf("%s: the Encounter lost the A01's %s: %v", name, f, enc)
					}
				}
				if enc["status"] != "in-progress" {
					t.Errorf("%s: Encounter status %v, want the A01's in-progress", name, enc["status"])
				}
			}
		}
	}
}

// TestNonADTKeylessVisit: a result whose PV1 has neither a visit number
// (PV1-19) nor an admit time (PV1-44) names no visit the exchange can
// find again: it writes no Encounter, so a second result (or the same
// one re-sent under a new MSH-10) does not add one more Encounter for
// the same visit. An ADT message with such a PV1 still writes one.
func TestNonADTKeylessVisit(t *testing.T) {
	const oru = "MSH|^~\\&|LAB|HOSP|HIE|HIE|20240101140000||ORU^R01^ORU_R01|%s|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|O|CLINIC^^^HOSP|||||||||||||||\n" +
		"OBR|1|P-1^CPOE|F-1^LAB|718-7^Hemoglobin^LN|||20240101130000|||||||||||||||20240101140000|||F\n" +
		"OBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL|||||F\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		for _, id := range []string{"R1", "R2"} {
			b := mustConvert(t, c, fmt.Sprintf(oru, id))
			if n := len(entriesOf[fhir.Encounter](b)); n != 0 {
				t.Errorf("%s: result %s writes %d Encounters", mode, id, n)
			}
			if strings.Contains(string(marshal(t, b)), `"encounter"`) {
				t.Errorf("%s: result %s refers to an Encounter", mode, id)
			}
		}
		const a04 = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101140000||ADT^A04^ADT_A01|A9|P|2.5.1\n" +
			"EVN|A04|20240101140000\n" +
			"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
			"PV1|1|O|CLINIC^^^HOSP|||||||||||||||\n"
		if n := len(entriesOf[fhir.Encounter](mustConvert(t, c, a04))); n != 1 {
			t.Errorf("%s: an A04 with a keyless PV1 writes %d Encounters, want 1", mode, n)
		}
	}
}

// TestADTKeylessVisitResendStable: an ADT whose PV1 has neither a visit
// number nor an admit time still writes its Encounter (the visit of an
// A04 registration), but re-sent under a new MSH-10 it must land on the
// same Encounter: keyed by the control id it added a second one at the
// exchange (the testdata A04 with local ids, fed twice). EVN-2, the
// event's recorded time, is what a re-send repeats.
func TestADTKeylessVisitResendStable(t *testing.T) {
	const a04 = "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101140000||ADT^A04^ADT_A01|%s|P|2.5.1\n" +
		"EVN|A04|20240101135500\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|O|CLINIC^^^HOSP|||||||||||||||\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		key := func(control string) string {
			encs := entriesOf[fhir.Encounter](mustConvert(t, c, fmt.Sprintf(a04, control)))
			if len(encs) != 1 {
				t.Fatalf("%s: %d Encounters, want 1", mode, len(encs))
			}
			id := encs[0].Identifier[0]
			return id.System + "|" + id.Value
		}
		if first, again := key("A9"), key("A9-RESENT"); first != again {
			t.Errorf("%s: Encounter %s, re-sent under a new MSH-10 %s", mode, first, again)
		}
	}
}
