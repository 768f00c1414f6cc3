package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestADTObservations: an ADT's OBX (height and weight taken at
// admission, ...) is an Observation of the patient and the visit (the
// IG's ADT_A01 map), not dropped; a vital sign gets its vital-signs
// category, another no laboratory category; its NTE is its note.
func TestADTObservations(t *testing.T) {
	const msg = `MSH|^~\&|EPICADT|SPRINGCLINIC^2.16.840.1.113883.3.999^ISO|FERRY|HIE|20240316090000||ADT^A01^ADT_A01|ADT-OBX-1|P|2.5.1
EVN|A01|20240316085955
PID|1||MRN100777^^^SPRINGCLINIC&2.16.840.1.113883.3.999.1&ISO^MR||Doe^Jordan||19900101|F
PV1|1|I|MED^12^A^SPRINGCLINIC|||||||MED||||7|||||V2024031600007^^^SPRINGCLINIC&2.16.840.1.113883.3.999.2&ISO^VN|||||||||||||||||||||||||20240316083000
OBX|1|NM|29463-7^Body weight^LN||72.5|kg^kilogram^UCUM|||||F|||20240316084000
NTE|1||Weighed in gown
OBX|2|ST|8661-1^Chief complaint^LN||Shortness of breath||||||F|||20240316084000`
	b := mustConvert(t, testConverter(t), msg)
	encs := entriesOf[fhir.Encounter](b)
	if len(encs) != 1 {
		t.Fatalf("%d encounters", len(encs))
	}
	obs := map[string]*fhir.Observation{}
	for _, o := range entriesOf[fhir.Observation](b) {
		obs[o.Code.Coding[0].Code] = o
	}
	w, cc := obs["29463-7"], obs["8661-1"]
	if w == nil || cc == nil {
		t.Fatalf("observations %v, want the weight and the chief complaint", obs)
	}
	if w.ValueQuantity == nil || w.ValueQuantity.Code != "kg" || w.EffectiveDateTime == "" {
		t.Errorf("weight %+v", w)
	}
	if len(w.Category) != 1 || w.Category[0].Coding[0].Code != "vital-signs" {
		t.Errorf("weight category %+v, want vital-signs", w.Category)
	}
	if len(w.Note) != 1 || w.Note[0].Text != "Weighed in gown" {
		t.Errorf("weight notes %+v", w.Note)
	}
	if cc.ValueString != "Shortness of breath" || len(cc.Category) != 0 {
		t.Errorf("chief complaint %q, category %+v (want none)", cc.ValueString, cc.Category)
	}
	for _, o := range []*fhir.Observation{w, cc} {
		if o.Subject == nil || o.Encounter == nil || o.Encounter.Reference != "Encounter/"+encs[0].ID {
			t.Errorf("%s: subject %+v, encounter %+v", o.Code.Coding[0].Code, o.Subject, o.Encounter)
		}
	}
	strictR4(t, marshal(t, b))
}
