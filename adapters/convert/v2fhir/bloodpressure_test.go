package v2fhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// bpComponents returns o's systolic and diastolic components as
// "value unit-code", and whether o is shaped as FHIR R4's blood pressure
// profile wants: code 85354-9, no value of its own.
func bpComponents(t *testing.T, o *fhir.Observation) (sys, dia string) {
	t.Helper()
	if o.ValueQuantity != nil || o.ValueRatio != nil || o.ValueString != "" {
		b, _ := json.Marshal(o)
		t.Errorf("blood pressure has a value of its own: %s", b)
	}
	for _, c := range o.Component {
		if len(c.Code.Coding) == 0 || c.Code.Coding[0].System != "http://loinc.org" || c.ValueQuantity == nil {
			continue
		}
		v := string(c.ValueQuantity.Value) + " " + c.ValueQuantity.Code
		switch c.Code.Coding[0].Code {
		case "8480-6":
			sys = v
		case "8462-4":
			dia = v
		}
	}
	return sys, dia
}

// TestBloodPressureOBX: an OBX coded 85354-9 (blood pressure panel) whose
// value is the reading as an SN ratio (^120^/^80) or as text ("120/80")
// went out as a valueRatio or a valueString, though FHIR R4's blood
// pressure profile and US Core Blood Pressure want the systolic (8480-6)
// and diastolic (8462-4) readings as its components, each a quantity in
// mm[Hg]: no US Core client read it as a blood pressure.
func TestBloodPressureOBX(t *testing.T) {
	for _, obx := range []string{
		`OBX|1|SN|85354-9^Blood pressure panel^LN||^120^/^80|mm[Hg]^mm[Hg]^UCUM|||||F|||20240105080000-0500`,
		`OBX|1|ST|85354-9^Blood pressure panel^LN||120/80|mm[Hg]^mm[Hg]^UCUM|||||F|||20240105080000-0500`,
		`OBX|1|NM|85354-9^Blood pressure panel^LN||120/80|mm[Hg]^mm[Hg]^UCUM|||||F|||20240105080000-0500`,
	} {
		msg := `MSH|^~\&|EHR|CLINIC|HIE|HIE|20240105101500-0500||ORU^R01^ORU_R01|BP1|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^EHR|85353-1^Vital signs panel^LN|||20240105080000-0500||||||||||||||||||F
` + obx
		var bp *fhir.Observation
		for _, o := range entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg)) {
			if o.Code.Coding[0].Code == "85354-9" {
				bp = o
			}
		}
		if bp == nil {
			t.Fatalf("%s: no blood pressure Observation", obx)
		}
		if sys, dia := bpComponents(t, bp); sys != "120 mm[Hg]" || dia != "80 mm[Hg]" {
			t.Errorf("%s: systolic %q, diastolic %q; want 120 and 80 mm[Hg]", obx, sys, dia)
		}
	}
}

// TestBloodPressurePairInOneReport: a vital signs OBR's systolic (8480-6)
// and diastolic (8462-4) OBX, the way most interfaces send a blood
// pressure, went out as two Observations and never as the blood pressure
// FHIR R4's and US Core's Blood Pressure profiles want (code 85354-9, the
// two as components), so an exchange's US Core search for blood pressure
// found none. The pair of one time now also makes it, with an id that
// follows from the report, derived from the two, which still go.
func TestBloodPressurePairInOneReport(t *testing.T) {
	const msg = `MSH|^~\&|EHR|CLINIC|HIE|HIE|20240105101500-0500||ORU^R01^ORU_R01|BP2|P|2.5.1
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
OBR|1|P1^EHR|F1^EHR|85353-1^Vital signs panel^LN|||20240105080000-0500||||||||||||||||||F
OBX|1|NM|8480-6^Systolic blood pressure^LN||132|mm[Hg]^mm[Hg]^UCUM||H|||F
OBX|2|NM|8462-4^Diastolic blood pressure^LN||86|mm[Hg]^mm[Hg]^UCUM||N|||F
OBX|3|NM|8867-4^Heart rate^LN||72|/min^/min^UCUM|||||F`
	b := mustConvert(t, testConverter(t), msg)
	var bp *fhir.Observation
	var dr *fhir.DiagnosticReport
	ids := map[string]string{}
	for _, o := range entriesOf[fhir.Observation](b) {
		ids[o.Code.Coding[0].Code] = o.ID
		if o.Code.Coding[0].Code == "85354-9" {
			if bp != nil {
				t.Fatal("two blood pressures")
			}
			bp = o
		}
	}
	if drs := entriesOf[fhir.DiagnosticReport](b); len(drs) == 1 {
		dr = drs[0]
	}
	if bp == nil {
		t.Fatalf("no blood pressure Observation; Observations %v", ids)
	}
	if sys, dia := bpComponents(t, bp); sys != "132 mm[Hg]" || dia != "86 mm[Hg]" {
		t.Errorf("systolic %q, diastolic %q; want 132 and 86 mm[Hg]", sys, dia)
	}
	if len(bp.Component) == 2 && (len(bp.Component[0].Interpretation) != 1 || bp.Component[0].Interpretation[0].Coding[0].Code != "H") {
		t.Errorf("systolic component interpretation %+v, want H", bp.Component[0].Interpretation)
	}
	if len(bp.Category) != 1 || bp.Category[0].Coding[0].Code != "vital-signs" || bp.Subject == nil ||
		bp.EffectiveDateTime != "2024-01-05T08:00:00-05:00" || bp.Status != "final" || len(bp.Identifier) == 0 {
		j, _ := json.Marshal(bp)
		t.Errorf("blood pressure %s: want category vital-signs, subject, the report's time, final, an identifier", j)
	}
	if ids["8480-6"] == "" || ids["8462-4"] == "" || len(bp.DerivedFrom) != 2 ||
		bp.DerivedFrom[0].Reference != "Observation/"+ids["8480-6"] || bp.DerivedFrom[1].Reference != "Observation/"+ids["8462-4"] {
		t.Errorf("derivedFrom %v, want the systolic and diastolic Observations %v", bp.DerivedFrom, ids)
	}
	found := false
	for _, r := range dr.Result {
		found = found || r.Reference == "Observation/"+bp.ID
	}
	if !found {
		t.Errorf("report results %v do not name the blood pressure", dr.Result)
	}
	for _, o := range entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg)) {
		if o.Code.Coding[0].Code == "85354-9" && o.ID != bp.ID {
			t.Errorf("sent again, blood pressure %s, was %s", o.ID, bp.ID)
		}
	}
}

// TestBloodPressurePairInADT: an admission's systolic (8480-6) and
// diastolic (8462-4) OBX (vitals taken at registration, the way an ADT
// sends them) went out as two Observations and never as the blood
// pressure FHIR R4's and US Core's Blood Pressure profiles want, which a
// report's pair already made. The ADT's pair of one time now also makes
// it, of the patient and the visit, derived from the two, keyed as an
// OBX coded 85354-9 of that message would be, so a message sent again
// writes the same one; one time's pair makes one, an ADT that sends its
// 85354-9 itself gets no second, and readings of other times none.
func TestBloodPressurePairInADT(t *testing.T) {
	const head = `MSH|^~\&|EHR|CLINIC|HIE|HIE|20240105101500-0500||ADT^A04^ADT_A01|BPA1|P|2.5.1
EVN|A04|20240105101500-0500
PID|1||123^^^HOSP^MR||Roe^Rick||19700101|M
PV1|1|O|CLINIC^1^^HOSP||||||||||||||||V88^^^HOSP^VN|||||||||||||||||||||||||20240105080000-0500
`
	const pair = `OBX|1|NM|8480-6^Systolic blood pressure^LN||132|mm[Hg]^mm[Hg]^UCUM||H|||F|||20240105080500-0500
OBX|2|NM|8462-4^Diastolic blood pressure^LN||86|mm[Hg]^mm[Hg]^UCUM||N|||F|||20240105080500-0500
OBX|3|NM|8867-4^Heart rate^LN||72|/min^/min^UCUM|||||F|||20240105080500-0500`
	bps := func(b *fhir.Bundle) (out []*fhir.Observation, ids map[string]string) {
		ids = map[string]string{}
		for _, o := range entriesOf[fhir.Observation](b) {
			ids[o.Code.Coding[0].Code] = o.ID
			if o.Code.Coding[0].Code == "85354-9" {
				out = append(out, o)
			}
		}
		return out, ids
	}
	b := mustConvert(t, testConverter(t), head+pair)
	strictR4(t, marshal(t, b))
	found, ids := bps(b)
	if len(found) != 1 {
		t.Fatalf("%d blood pressures; Observations %v", len(found), ids)
	}
	bp := found[0]
	if sys, dia := bpComponents(t, bp); sys != "132 mm[Hg]" || dia != "86 mm[Hg]" {
		t.Errorf("systolic %q, diastolic %q; want 132 and 86 mm[Hg]", sys, dia)
	}
	encs := entriesOf[fhir.Encounter](b)
	if len(bp.Category) != 1 || bp.Category[0].Coding[0].Code != "vital-signs" || bp.Subject == nil ||
		len(encs) != 1 || bp.Encounter == nil || bp.Encounter.Reference != "Encounter/"+encs[0].ID ||
		bp.EffectiveDateTime != "2024-01-05T08:05:00-05:00" || bp.Status != "final" || len(bp.Identifier) != 1 {
		t.Errorf("blood pressure %s: want category vital-signs, the patient and visit, the readings' time, final, an identifier", toJSON(bp))
	}
	if len(bp.DerivedFrom) != 2 || bp.DerivedFrom[0].Reference != "Observation/"+ids["8480-6"] || bp.DerivedFrom[1].Reference != "Observation/"+ids["8462-4"] {
		t.Errorf("derivedFrom %v, want the systolic and diastolic Observations %v", bp.DerivedFrom, ids)
	}
	// Keyed as the message's own 85354-9 OBX of that time would be.
	own, _ := bps(mustConvert(t, testConverter(t), head+
		`OBX|1|SN|85354-9^Blood pressure panel^LN||^132^/^86|mm[Hg]^mm[Hg]^UCUM|||||F|||20240105080500-0500`))
	if len(own) != 1 || own[0].ID != bp.ID {
		t.Errorf("the pair's blood pressure is %s, the message's own 85354-9 OBX %v", bp.ID, toJSON(own))
	}
	// Sent again under a new control id: the same one.
	again, _ := bps(mustConvert(t, testConverter(t), strings.Replace(head, "|BPA1|", "|BPA2|", 1)+pair))
	if len(again) != 1 || again[0].ID != bp.ID {
		t.Errorf("sent again, blood pressure %v, was %s", toJSON(again), bp.ID)
	}
	// An ADT that sends its blood pressure too gets no second.
	both, _ := bps(mustConvert(t, testConverter(t), head+pair+"\n"+
		`OBX|4|SN|85354-9^Blood pressure panel^LN||^132^/^86|mm[Hg]^mm[Hg]^UCUM|||||F|||20240105080500-0500`))
	if len(both) != 1 {
		t.Errorf("%d blood pressures with the message's own", len(both))
	}
	// Readings of different times are no pair.
	apart, _ := bps(mustConvert(t, testConverter(t), head+strings.Replace(pair, "8462-4^Diastolic blood pressure^LN||86|mm[Hg]^mm[Hg]^UCUM||N|||F|||20240105080500", "8462-4^Diastolic blood pressure^LN||86|mm[Hg]^mm[Hg]^UCUM||N|||F|||20240105090500", 1)))
	if len(apart) != 0 {
		t.Errorf("readings of two times made a blood pressure: %s", toJSON(apart))
	}
}
