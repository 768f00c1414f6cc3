package v2fhir

import (
	"encoding/base64"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// A lab that withdraws a report sent for the wrong patient sends it again
// with OBX-11 W on each result ("Post original as wrong, e.g.,
// transmitted for wrong patient"; D "Deletes the OBX record"). Its
// numeric results went entered-in-error, but its PDF (OBX ED) and its
// image link (OBX RP) stayed the DiagnosticReport's presentedForm, and
// the report, written whole over the first, kept showing the other
// patient's document at the exchange. A withdrawn ED or RP is left out
// of the report; a final one is still presented.
func TestWithdrawnDocumentNotPresented(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n%%EOF\n"))
	c := testConverter(t)
	for _, st := range []string{"W", "D"} {
		b := mustConvert(t, c, "MSH|^~\\&|LAB|LABFAC|FERRY|HIE|20240401103000||ORU^R01^ORU_R01|WD-"+st+"|P|2.5.1\n"+
			"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n"+
			"OBR|1|P1|F1|24627-2^Chest CT^LN|||20240401090000|||||||||||||||20240401100000|||C\n"+
			"OBX|1|ED|18748-4^Diagnostic imaging study^LN||^application^pdf^Base64^"+pdf+"||||||"+st+"\n"+
			"OBX|2|RP|18748-4^Diagnostic imaging study^LN||https://pacs.example.org/wado?study=1.2.3^^image^JPEG||||||"+st+"\n"+
			"OBX|3|NM|2345-7^Glucose^LN||95|mg/dL^^UCUM|||||"+st+"\n")
		drs := entriesOf[fhir.DiagnosticReport](b)
		if len(drs) != 1 {
			t.Fatalf("%s: reports %+v", st, drs)
		}
		if len(drs[0].PresentedForm) != 0 {
			t.Errorf("OBX-11 %s: the withdrawn document is still presented: %+v", st, drs[0].PresentedForm)
		}
		if obs := entriesOf[fhir.Observation](b); len(obs) != 1 || obs[0].Status != "entered-in-error" {
			t.Errorf("OBX-11 %s: observations %+v", st, obs)
		}
	}
	b := mustConvert(t, c, "MSH|^~\\&|LAB|LABFAC|FERRY|HIE|20240401103000||ORU^R01^ORU_R01|WD-F|P|2.5.1\n"+
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n"+
		"OBR|1|P1|F1|24627-2^Chest CT^LN|||20240401090000|||||||||||||||20240401100000|||F\n"+
		"OBX|1|ED|18748-4^Diagnostic imaging study^LN||^application^pdf^Base64^"+pdf+"||||||F\n"+
		"OBX|2|RP|18748-4^Diagnostic imaging study^LN||https://pacs.example.org/wado?study=1.2.3^^image^JPEG||||||C\n")
	if drs := entriesOf[fhir.DiagnosticReport](b); len(drs) != 1 || len(drs[0].PresentedForm) != 2 {
		t.Errorf("final and corrected documents: %+v", drs)
	}
}
