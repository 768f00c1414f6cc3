package v2fhir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestSecondPatientGroupKeysItsOwnPatient: an ORU^R01 may carry several
// patient groups. Keys minted for the second patient's resources (a
// report without order numbers, its observations) must be scoped by that
// patient, not by the first PID of the message: else a report of patient
// B sent after patient A's group mints the key patient A's own report of
// the same test and time has in another message, and replaces it.
func TestSecondPatientGroupKeysItsOwnPatient(t *testing.T) {
	const msh = "MSH|^~\\&|LABSYS|ACMELAB|FERRY|CLINIC|20240502101500||ORU^R01^ORU_R01|%s|P|2.5.1\n"
	const pidA = "PID|1||MRN-A^^^CLINIC^MR||Doe^Ann||19780214|F\n"
	const pidB = "PID|1||MRN-B^^^CLINIC^MR||Roe^Bob||19800101|M\n"
	const res = "OBR|1|||718-7^Hemoglobin^LN|||20240502083000\n" +
		"OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL^g/dL^UCUM|||||F|||20240502083000\n"
	obrA := "OBR|1|||2345-7^Glucose^LN|||20240502083000\n" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^mg/dL^UCUM|||||F|||20240502083000\n"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		keys := func(msg string) map[string]string {
			out := map[string]string{}
			for _, dr := range entriesOf[fhir.DiagnosticReport](mustConvert(t, c, msg)) {
				out[dr.Identifier[0].System+"|"+dr.Identifier[0].Value] = dr.Subject.Reference
			}
			return out
		}
		// Message 1: patient A (another test), then patient B's hemoglobin.
		both := keys(fmt.Sprintf(msh, "M1") + pidA + obrA + pidB + res)
		// Message 2: patient A's own hemoglobin at the same time.
		onlyA := keys(fmt.Sprintf(msh, "M2") + pidA + res)
		for k := range onlyA {
			if _, ok := both[k]; ok {
				t.Errorf("%s: patient A's report and patient B's report share the key %s", mode, k)
			}
		}
	}
}

// TestDispensesOfTwoPlacersStayApart: a pharmacy fills orders of several
// placers, whose numbers may be equal (each placer counts on its own), and
// keys a dispense by its order number and RXD-1. The number's value alone
// gave the dispenses of two patients, for orders 1001 of two clinics, one
// key: the second patient's MedicationDispense replaced the first's.
func TestDispensesOfTwoPlacersStayApart(t *testing.T) {
	const rds = "MSH|^~\\&|PHARM|TOWNPHARM|FERRY|HIE|20240405113000||RDS^O13^RDS_O13|%s|P|2.5.1\r" +
		"PID|1||%s^^^CLINIC^MR||Doe^Pat||19780214|F\r" +
		"ORC|RE|1001^%s||||||||||||||20240405112500\r" +
		"RXD|1|860975^Metformin 500 MG Oral Tablet^RXNORM|20240405112000|60|{tbl}^tablet^UCUM\r"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		key := func(control, mrn, placer string) string {
			mds := entriesOf[fhir.MedicationDispense](mustConvert(t, c, fmt.Sprintf(rds, control, mrn, placer)))
			if len(mds) != 1 {
				t.Fatalf("%s: %d dispenses", mode, len(mds))
			}
			return mds[0].Identifier[0].System + "|" + mds[0].Identifier[0].Value
		}
		a, b, again := key("D1", "MRN-A", "CLINICA"), key("D2", "MRN-B", "CLINICB"), key("D1-RESENT", "MRN-A", "CLINICA")
		if a == b {
			t.Errorf("%s: two patients' dispenses (orders of two placers) share the key %s", mode, a)
		}
		if a != again {
			t.Errorf("%s: re-sent under a new MSH-10 the dispense key moved from %s to %s", mode, a, again)
		}
	}
}

// TestImmunizationsNamedByTextStayApart: a VXU without an order number
// keys the Immunization by the patient, the vaccine code and the
// administration time. Two vaccines given at one visit (one RXA-3) and
// named by text only (RXA-5 without a CVX code) are two facts, sent in
// two messages; keyed without the text, the second replaced the first.
func TestImmunizationsNamedByTextStayApart(t *testing.T) {
	const vxu = "MSH|^~\\&|IMMREG|CLINIC|FERRY|HIE|20240401103000||VXU^V04^VXU_V04|%s|P|2.5.1\r" +
		"PID|1||MRN-A^^^CLINIC^MR||Doe^Pat||20230105|M\r" +
		"ORC|RE|9999|9999\r" +
		"RXA|0|1|20240401101500||^%s|0.5|mL^mL^UCUM||00^New immunization record^NIP001\r"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		key := func(control, vaccine string) string {
			imms := entriesOf[fhir.Immunization](mustConvert(t, c, fmt.Sprintf(vxu, control, vaccine)))
			if len(imms) != 1 {
				t.Fatalf("%s: %d immunizations", mode, len(imms))
			}
			id := imms[0].Identifier[len(imms[0].Identifier)-1]
			return id.System + "|" + id.Value
		}
		a, b, again := key("V1", "Influenza vaccine"), key("V2", "Tetanus toxoid"), key("V1-RESENT", "Influenza vaccine")
		if a == b {
			t.Errorf("%s: two vaccines given at one time share the key %s", mode, a)
		}
		if a != again {
			t.Errorf("%s: re-sent under a new MSH-10 the immunization key moved from %s to %s", mode, a, again)
		}
	}
}

// TestReusedOrderNumbersOfTwoPlacersStayApart: in the conditional modes a
// second resource of one message with the key of the first (a sender
// reusing an order number) is written under a minted "duplicate-key"
// identifier. That key must keep the system of the number it stands for:
// two placers' order 1001, each reused in one message for its own
// patient, minted one key, and the second patient's report replaced the
// first's at the exchange.
func TestReusedOrderNumbersOfTwoPlacersStayApart(t *testing.T) {
	const oru = "MSH|^~\\&|LABSYS|ACMELAB|FERRY|CLINIC|20240502101500||ORU^R01^ORU_R01|%s|P|2.5.1\r" +
		"PID|1||%s^^^CLINIC^MR||Doe^Pat||19780214|F\r" +
		"OBR|1|1001^%[3]s||718-7^Hemoglobin^LN|||20240502083000\r" +
		"OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL^g/dL^UCUM|||||F\r" +
		"OBR|2|1001^%[3]s||2345-7^Glucose^LN|||20240502083000\r" +
		"OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^mg/dL^UCUM|||||F\r"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		urls := func(control, mrn, placer string) map[string]bool {
			b := mustConvert(t, c, fmt.Sprintf(oru, control, mrn, placer))
			out := map[string]bool{}
			for _, e := range b.Entry {
				if e.Request != nil && strings.HasPrefix(e.Request.URL, "DiagnosticReport") {
					out[e.Request.URL] = true
				}
			}
			if len(out) != 2 {
				t.Fatalf("%s: %d report keys, want 2: %v", mode, len(out), out)
			}
			return out
		}
		a, b := urls("M1", "MRN-A", "CLINICA"), urls("M2", "MRN-B", "CLINICB")
		for u := range a {
			if b[u] {
				t.Errorf("%s: two patients' reports are written by one search: %s", mode, u)
			}
		}
	}
}

// TestGroupKeyedOrdersOfTwoPlacersStayApart: an order without placer or
// filler number is keyed by its placer group number (ORC-4) and test. The
// group number is an EI: its namespace (ORC-4.2) names the placer that
// counts it. Keyed without it, the same test in group G1 of two placers,
// for two patients, sent by one order router made one ServiceRequest.
func TestGroupKeyedOrdersOfTwoPlacersStayApart(t *testing.T) {
	const orm = "MSH|^~\\&|ROUTER|HUB|FERRY|HIE|20240402090000||ORM^O01^ORM_O01|%s|P|2.5.1\r" +
		"PID|1||%s^^^CLINIC^MR||Doe^Pat||19780214|F\r" +
		"ORC|NW|||G1^%s|||||20240402085500\r" +
		"OBR|1|||24323-8^Comprehensive metabolic panel^LN\r"
	for _, mode := range []Mode{ModeID, ModeConditional, ModePatientConditional} {
		c := testConverter(t)
		c.Mode = mode
		key := func(control, mrn, placer string) string {
			srs := entriesOf[fhir.ServiceRequest](mustConvert(t, c, fmt.Sprintf(orm, control, mrn, placer)))
			if len(srs) != 1 {
				t.Fatalf("%s: %d orders", mode, len(srs))
			}
			id := srs[0].Identifier[len(srs[0].Identifier)-1]
			return id.System + "|" + id.Value
		}
		a, b, again := key("O1", "MRN-A", "CLINICA"), key("O2", "MRN-B", "CLINICB"), key("O1-RESENT", "MRN-A", "CLINICA")
		if a == b {
			t.Errorf("%s: two patients' orders (group G1 of two placers) share the key %s", mode, a)
		}
		if a != again {
			t.Errorf("%s: re-sent under a new MSH-10 the order key moved from %s to %s", mode, a, again)
		}
	}
}
