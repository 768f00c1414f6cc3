package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestVIPIndicatorCourtesy: the IG's PV1[Encounter] map gives PV1-16
// (VIP Indicator, CWE of user-defined table 0099) to
// Encounter.hospitalization.specialCourtesy (CWE[CodeableConcept]), as
// the README says; it was not read, so an exchange never learnt the
// visit was a VIP's. It is a courtesy, not a security label: the
// Encounter's meta.security is as without it.
func TestVIPIndicatorCourtesy(t *testing.T) {
	msg := "MSH|^~\\&|ADT|HOSP|HIE|HIE|20240101120000||ADT^A01^ADT_A01|A1|P|2.5.1\n" +
		"EVN|A01|20240101120000\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"PV1|1|I|W1^101^A|E||||||MED||||||VIP|||V77^^^HOSP^VN|||||||||||||||||||||||||20240101110000\n"
	b := mustConvert(t, testConverter(t), msg)
	encs := entriesOf[fhir.Encounter](b)
	if len(encs) != 1 {
		t.Fatalf("%d Encounters", len(encs))
	}
	e := encs[0]
	h := e.Hospitalization
	if h == nil || len(h.SpecialCourtesy) != 1 || len(h.SpecialCourtesy[0].Coding) != 1 ||
		h.SpecialCourtesy[0].Coding[0].Code != "VIP" || h.SpecialCourtesy[0].Coding[0].System != v2Table+"0099" {
		t.Fatalf("hospitalization %s, want specialCourtesy VIP of v2-0099", toJSON(h))
	}
	if e.Meta != nil && len(e.Meta.Security) > 0 {
		t.Errorf("a VIP indicator labelled the Encounter: %s", toJSON(e.Meta))
	}
	strictR4(t, marshal(t, b))

	// Without PV1-16 the Encounter has no hospitalization at all.
	plain := mustConvert(t, testConverter(t), visitA01)
	if e := entriesOf[fhir.Encounter](plain)[0]; e.Hospitalization != nil && len(e.Hospitalization.SpecialCourtesy) > 0 {
		t.Errorf("courtesy without PV1-16: %s", toJSON(e.Hospitalization))
	}
}
