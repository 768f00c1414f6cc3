package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// productIDSection is a Medications section of one Medication Activity a
// drug, whose manufacturedProduct has the id HL7's own C-CDA R2.1
// examples give every product, Proventil and Atenolol alike.
func productIDSection(drugs ...[2]string) string {
	s := `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.1.1" extension="2014-06-09"/>
 <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>`
	for i, d := range drugs {
		s += `
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.16" extension="2014-06-09"/>
  <id root="9.9.9" extension="med` + string(rune('1'+i)) + `"/>
  <statusCode code="active"/>
  <effectiveTime xsi:type="IVL_TS"><low value="20120806"/></effectiveTime>
  <doseQuantity value="1"/>
  <consumable><manufacturedProduct classCode="MANU"><templateId root="2.16.840.1.113883.10.20.22.4.23" extension="2014-06-09"/>
   <id root="2a620155-9d11-439e-92b3-5d9815ff4ee8"/>
   <manufacturedMaterial><code code="` + d[0] + `" codeSystem="2.16.840.1.113883.6.88" displayName="` + d[1] + `"/></manufacturedMaterial>
  </manufacturedProduct></consumable>
 </substanceAdministration></entry>`
	}
	return s + `
</section></component>`
}

// statementDrugs returns the RxNorm code of the Medication each
// MedicationStatement of b refers to, and the request URLs of the
// Medications.
func statementDrugs(t *testing.T, b *fhir.Bundle) (drugs []string, meds map[string]string) {
	t.Helper()
	byRef := map[string]string{}
	meds = map[string]string{}
	for _, e := range b.Entry {
		if m, ok := e.Resource.(*fhir.Medication); ok {
			byRef[e.Request.URL] = m.Code.Coding[0].Code
			meds[m.Code.Coding[0].Code] = e.Request.URL
		}
	}
	for _, e := range b.Entry {
		if ms, ok := e.Resource.(*fhir.MedicationStatement); ok {
			if ms.MedicationReference == nil {
				t.Fatalf("statement without a Medication reference: %+v", ms)
			}
			drugs = append(drugs, byRef[ms.MedicationReference.Reference])
		}
	}
	return drugs, meds
}

// TestReusedProductIDKeepsDrugsApart: a manufacturedProduct id names the
// Medication a statement refers to, but senders copy HL7's examples,
// which give one id to every product (six of the shared corpus's
// documents: Proventil and Atenolol). The Atenolol statement referred to
// the Medication Proventil, and the same id in another patient's document
// wrote its drug over that Medication at the exchange, so every statement
// referring to it named that drug. A Medication is now keyed by what it
// is (its codes and lot) within the document's set; the id stays an
// identifier of the first product that gives it.
func TestReusedProductIDKeepsDrugsApart(t *testing.T) {
	proventil := [2]string{"573621", "Proventil 0.09 MG/ACTUAT inhalant solution"}
	atenolol := [2]string{"197380", "Atenolol 25 MG Oral Tablet"}
	b, _, err := ConvertBytes([]byte(reviewDoc("d1", "s1", "", productIDSection(proventil, atenolol))), Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	drugs, meds := statementDrugs(t, b)
	if strings.Join(drugs, ",") != "573621,197380" {
		t.Errorf("statements refer to %v, want 573621 (Proventil), 197380 (Atenolol)", drugs)
	}
	for _, e := range b.Entry {
		if m, ok := e.Resource.(*fhir.Medication); ok && m.Code.Coding[0].Code == "197380" {
			for _, id := range m.Identifier {
				if strings.Contains(id.Value, "2a620155") {
					t.Errorf("Atenolol carries the id Proventil took: %+v", m.Identifier)
				}
			}
		}
	}

	// Another patient's document, another set: its Atenolol under the
	// same id must not be written over this document's Proventil.
	other := strings.ReplaceAll(reviewDoc("d2", "s2", "", productIDSection(atenolol)), "MRN1", "MRN2")
	b2, _, err := ConvertBytes([]byte(other), Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	_, meds2 := statementDrugs(t, b2)
	if meds2["197380"] == meds["573621"] {
		t.Errorf("the other document's Atenolol is written as %s, this document's Proventil", meds2["197380"])
	}
	// The same document again writes the same Medications.
	b3, _, _ := ConvertBytes([]byte(reviewDoc("d1", "s1", "", productIDSection(proventil, atenolol))), Options{NoBinary: true})
	if _, meds3 := statementDrugs(t, b3); meds3["573621"] != meds["573621"] || meds3["197380"] != meds["197380"] {
		t.Errorf("the document again writes %v, first %v", meds3, meds)
	}
}
