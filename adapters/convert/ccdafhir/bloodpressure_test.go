package ccdafhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// bpSection is a Vital Signs Organizer with one blood pressure reading,
// systolic and diastolic as C-CDA records it, and a heart rate.
const bpSection = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.4.1" extension="2015-08-01"/>
 <code code="8716-3" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="CLUSTER" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.26" extension="2015-08-01"/>
  <id root="9.9.9" extension="vorg1"/>
  <code code="46680005" codeSystem="2.16.840.1.113883.6.96"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101093000-0500"/>
  <component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
   <id root="9.9.9" extension="sys1"/>
   <code code="8480-6" codeSystem="2.16.840.1.113883.6.1" displayName="Systolic blood pressure"/>
   <statusCode code="completed"/>
   <effectiveTime value="20240101093000-0500"/>
   <value xsi:type="PQ" value="132" unit="mm[Hg]"/>
   <interpretationCode code="H" codeSystem="2.16.840.1.113883.5.83"/>
  </observation></component>
  <component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
   <id root="9.9.9" extension="dia1"/>
   <code code="8462-4" codeSystem="2.16.840.1.113883.6.1" displayName="Diastolic blood pressure"/>
   <statusCode code="completed"/>
   <effectiveTime value="20240101093000-0500"/>
   <value xsi:type="PQ" value="86" unit="mm[Hg]"/>
  </observation></component>
  <component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.27" extension="2014-06-09"/>
   <id root="9.9.9" extension="hr1"/>
   <code code="8867-4" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="completed"/>
   <effectiveTime value="20240101093000-0500"/>
   <value xsi:type="PQ" value="70" unit="/min"/>
  </observation></component>
 </organizer></entry>
</section></component>`

// TestBloodPressurePanel: FHIR R4's blood pressure profile
// (http://hl7.org/fhir/StructureDefinition/bp) and US Core Blood
// Pressure fix Observation.code 85354-9 with a systolic (8480-6) and a
// diastolic (8462-4) component, each a valueQuantity in mm[Hg], and C-CDA
// on FHIR (CF-vitals) maps a Vital Signs Organizer's 8480-6 and 8462-4
// observations so: "Set Observation.code to 85354-9 (Blood Pressure Panel)
// and create 2 components for the systolic and diastolic readings. Both
// components are required. Do not send Observation.valueQuantity". ferry
// sent the two observations alone, so a search for code 85354-9 found no
// blood pressure.
func TestBloodPressurePanel(t *testing.T) {
	doc := reviewDoc("d1", "s1", "", bpSection)
	got, _ := convertReview(t, doc)
	var bp, panel *fhir.Observation
	singles := map[string]string{}
	for _, r := range got["Observation"] {
		o := r.(*fhir.Observation)
		switch o.Code.Coding[0].Code {
		case "85354-9":
			if bp != nil {
				t.Fatal("two blood pressure Observations")
			}
			bp = o
		case "85353-1":
			panel = o
		default:
			singles[o.Code.Coding[0].Code] = o.ID
		}
	}
	if bp == nil {
		t.Fatal("no blood pressure Observation (85354-9)")
	}
	if bp.ValueQuantity != nil || len(bp.Component) != 2 {
		t.Fatalf("blood pressure: value %v, %d components, want none and 2", bp.ValueQuantity, len(bp.Component))
	}
	for i, want := range []struct{ code, value string }{{"8480-6", "132"}, {"8462-4", "86"}} {
		c := bp.Component[i]
		q := c.ValueQuantity
		if c.Code.Coding[0].System != sysLOINC || c.Code.Coding[0].Code != want.code || q == nil ||
			string(q.Value) != want.value || q.System != sysUCUM || q.Code != "mm[Hg]" {
			b, _ := json.Marshal(c)
			t.Errorf("component %d: %s, want %s %s mm[Hg]", i, b, want.code, want.value)
		}
	}
	if len(bp.Component[0].Interpretation) != 1 || bp.Component[0].Interpretation[0].Coding[0].Code != "H" {
		t.Errorf("systolic component interpretation %+v, want H", bp.Component[0].Interpretation)
	}
	if len(bp.Category) != 1 || bp.Category[0].Coding[0].Code != "vital-signs" || bp.Subject == nil ||
		bp.EffectiveDateTime != "2024-01-01T09:30:00-05:00" || bp.Status != "final" {
		b, _ := json.Marshal(bp)
		t.Errorf("blood pressure Observation %s: want category vital-signs, subject, the reading's time, final", b)
	}
	// The single observations go too (FHIR's vital signs value set has
	// 8480-6 and 8462-4, and a search by code does not look into
	// components), and the panel names the blood pressure they make.
	if singles["8480-6"] == "" || singles["8462-4"] == "" || singles["8867-4"] == "" {
		t.Errorf("single observations %v, want 8480-6, 8462-4 and 8867-4", singles)
	}
	if len(bp.DerivedFrom) != 2 || !strings.HasSuffix(bp.DerivedFrom[0].Reference, singles["8480-6"]) ||
		!strings.HasSuffix(bp.DerivedFrom[1].Reference, singles["8462-4"]) {
		t.Errorf("derivedFrom %v, want the systolic and diastolic Observations", bp.DerivedFrom)
	}
	if panel == nil || !hasRef(panel.HasMember, "Observation/"+bp.ID) {
		t.Errorf("vital signs panel does not name the blood pressure")
	}
	// Sent again, the document writes the same resource.
	again, _ := convertReview(t, doc)
	for _, r := range again["Observation"] {
		if o := r.(*fhir.Observation); o.Code.Coding[0].Code == "85354-9" && o.ID != bp.ID {
			t.Errorf("sent again, blood pressure id %s, was %s", o.ID, bp.ID)
		}
	}

	// A systolic reading without its diastolic makes no blood pressure
	// (the profile requires both components).
	alone := strings.Replace(bpSection, `code="8462-4"`, `code="9279-1"`, 1)
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", alone))
	for _, r := range got["Observation"] {
		if o := r.(*fhir.Observation); o.Code.Coding[0].Code == "85354-9" {
			t.Error("blood pressure Observation made from a systolic reading alone")
		}
	}
}
