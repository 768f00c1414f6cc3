package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestCodedElementsTextFromNarrative: a code an EHR has no standard
// code for is sent as nullFlavor="OTH" (or with a local code) and its
// originalText pointing at the section's narrative, and C-CDA on FHIR
// maps originalText to CodeableConcept.text. ferry resolved that
// reference for an entry's code, value, route and product, but not for
// a result's interpretationCode or methodCode, a procedure's
// targetSiteCode or an immunization's approachSiteCode: such a site or
// method, its words only in the narrative, was dropped (Procedure.
// bodySite, Immunization.site, Observation.method), and a coded
// interpretation lost its words. Each now gets the narrative's text.
func TestCodedElementsTextFromNarrative(t *testing.T) {
	doc := reviewDoc("d1", "s1", "", `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
 <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
 <text><table><tr><td ID="int1">Above high normal</td><td ID="m1">Manual count</td></tr></table></text>
 <entry><organizer classCode="BATTERY" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
  <id root="7.7.7" extension="org1"/>
  <code code="58410-2" codeSystem="2.16.840.1.113883.6.1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240101083000-0500"/>
  <component><observation classCode="OBS" moodCode="EVN">
   <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
   <id root="7.7.7" extension="obs1"/>
   <code code="804-5" codeSystem="2.16.840.1.113883.6.1"/>
   <statusCode code="completed"/>
   <effectiveTime value="20240101083000-0500"/>
   <value xsi:type="PQ" value="12.1" unit="10*3/uL"/>
   <interpretationCode code="H" codeSystem="2.16.840.1.113883.5.83"><originalText><reference value="#int1"/></originalText></interpretationCode>
   <methodCode nullFlavor="OTH"><originalText><reference value="#m1"/></originalText></methodCode>
  </observation></component>
 </organizer></entry>
</section></component>
<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.7.1" extension="2014-06-09"/>
 <code code="47519-4" codeSystem="2.16.840.1.113883.6.1"/>
 <text><list><item ID="site1">Left knee, medial</item></list></text>
 <entry><procedure classCode="PROC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.14" extension="2014-06-09"/>
  <id root="5.5.5" extension="proc1"/>
  <code code="309000" codeSystem="2.16.840.1.113883.6.96"/>
  <statusCode code="completed"/>
  <effectiveTime value="20230105"/>
  <targetSiteCode nullFlavor="OTH"><originalText><reference value="#site1"/></originalText></targetSiteCode>
 </procedure></entry>
</section></component>
<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.2.1" extension="2015-08-01"/>
 <code code="11369-6" codeSystem="2.16.840.1.113883.6.1"/>
 <text><list><item ID="site2">Right thigh</item></list></text>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN" negationInd="false">
  <templateId root="2.16.840.1.113883.10.20.22.4.52" extension="2015-08-01"/>
  <id root="8.8.8" extension="imm1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20230101"/>
  <approachSiteCode nullFlavor="OTH"><originalText><reference value="#site2"/></originalText></approachSiteCode>
  <consumable><manufacturedProduct><templateId root="2.16.840.1.113883.10.20.22.4.54" extension="2014-06-09"/>
   <manufacturedMaterial><code code="140" codeSystem="2.16.840.1.113883.12.292"/></manufacturedMaterial>
  </manufacturedProduct></consumable>
 </substanceAdministration></entry>
</section></component>`)
	got, _ := convertReview(t, doc)
	if n := len(got["Observation"]); n != 1 {
		t.Fatalf("%d Observations, want 1", n)
	}
	o := got["Observation"][0].(*fhir.Observation)
	if len(o.Interpretation) != 1 || o.Interpretation[0].Text != "Above high normal" {
		t.Errorf("interpretation %+v, want H with its text Above high normal", o.Interpretation)
	}
	if o.Method == nil || o.Method.Text != "Manual count" {
		t.Errorf("method %+v, want text Manual count", o.Method)
	}
	if n := len(got["Procedure"]); n != 1 {
		t.Fatalf("%d Procedures, want 1", n)
	}
	if p := got["Procedure"][0].(*fhir.Procedure); len(p.BodySite) != 1 || p.BodySite[0].Text != "Left knee, medial" {
		t.Errorf("Procedure bodySite %+v, want text Left knee, medial", p.BodySite)
	}
	if n := len(got["Immunization"]); n != 1 {
		t.Fatalf("%d Immunizations, want 1", n)
	}
	if im := got["Immunization"][0].(*fhir.Immunization); im.Site == nil || im.Site.Text != "Right thigh" {
		t.Errorf("Immunization site %+v, want text Right thigh", im.Site)
	}
}
