package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestTelecomPagerIsNoMobile: a telecom with use PG (pager) was sent as a
// phone whose use is mobile, so whoever called the patient's or the
// clinician's "mobile" reached a pager (and a text message went
// nowhere); C-CDA on FHIR's ConceptMap FC-TelecomUse: "CDA's PG use code
// is equivalent to FHIR's ContactPoint.system of 'pager'". A pager is
// now system pager, with the other use codes the telecom has.
func TestTelecomPagerIsNoMobile(t *testing.T) {
	doc := strings.Replace(reviewDoc("d1", "s1", "", ""), `<id root="1.2.3.9" extension="MRN1"/>`,
		`<id root="1.2.3.9" extension="MRN1"/>
  <telecom use="PG" value="tel:+1(555)555-2003"/>
  <telecom use="WP PG" value="tel:+1(555)555-2004"/>
  <telecom use="MC" value="tel:+1(555)555-2005"/>`, 1)
	got, _ := convertReview(t, doc)
	p := got["Patient"][0].(*fhir.Patient)
	want := []fhir.ContactPoint{
		{System: "pager", Value: "+1(555)555-2003"},
		{System: "pager", Value: "+1(555)555-2004", Use: "work"},
		{System: "phone", Value: "+1(555)555-2005", Use: "mobile"},
	}
	if len(p.Telecom) != len(want) {
		t.Fatalf("telecom %+v, want %+v", p.Telecom, want)
	}
	for i := range want {
		if p.Telecom[i].System != want[i].System || p.Telecom[i].Value != want[i].Value || p.Telecom[i].Use != want[i].Use {
			t.Errorf("telecom %d: %+v, want %+v", i, p.Telecom[i], want[i])
		}
	}
}
