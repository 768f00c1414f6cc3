package ccdafhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// idOnlyAuthor is a header author described in full, NPI 1234567893.
const idOnlyAuthor = `<author><time value="20240102101500-0500"/><assignedAuthor>
  <id root="2.16.840.1.113883.4.6" extension="1234567893"/>
  <addr><streetAddressLine>1 Main St</streetAddressLine><city>Portland</city><state>OR</state><postalCode>97005</postalCode></addr>
  <telecom use="WP" value="tel:+1-555-555-1002"/>
  <assignedPerson><name><given>Henry</given><family>Seven</family></name></assignedPerson>
 </assignedAuthor></author>`

// idOnlyImm is an immunization whose performer is given by its id
// alone, as HL7's own C-CDA R2.1 examples give entry participants.
func idOnlyImm(id, extra string) string {
	return `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.2.1" extension="2015-08-01"/>
 <code code="11369-6" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><substanceAdministration classCode="SBADM" moodCode="EVN" negationInd="false">
  <templateId root="2.16.840.1.113883.10.20.22.4.52" extension="2015-08-01"/>
  <id root="9.9.9" extension="imm1"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240301"/>
  <consumable><manufacturedProduct><manufacturedMaterial>
   <code code="140" codeSystem="2.16.840.1.113883.12.292" displayName="Influenza, seasonal, injectable"/>
  </manufacturedMaterial></manufacturedProduct></consumable>
  <performer><assignedEntity>` + id + `</assignedEntity></performer>
 </substanceAdministration></entry>
</section></component>` + extra
}

// idOnlyProc is a procedure whose performer is described in full.
const idOnlyProc = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.7.1" extension="2014-06-09"/>
 <code code="47519-4" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><procedure classCode="PROC" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.14" extension="2014-06-09"/>
  <id root="9.9.9" extension="proc1"/>
  <code code="80146002" codeSystem="2.16.840.1.113883.6.96" displayName="Appendectomy"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240305"/>
  <performer><assignedEntity>
   <id root="2.16.840.1.113883.4.6" extension="1245319599"/>
   <assignedPerson><name><given>Nancy</given><family>Nightingale</family></name></assignedPerson>
  </assignedEntity></performer>
  <author><time value="20240305"/><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="1234567893"/></assignedAuthor></author>
 </procedure></entry>
</section></component>`

// TestParticipantByIDOnly: a performer or author given by its id alone
// was dropped: HL7's C-CDA R2.1 examples name entry participants so
// (Procedure_Note.xml's authors, by the header author's NPI), as C-CDA
// allows ("If the ID isn't referencing an author described elsewhere in
// the document, then the author components required in US Realm Header
// are required here as well", CONF:1098-31473; C-CDA 4.0: "on another
// instance ... in the document that has an id that matches the first id
// of this author"). C-CDA on FHIR maps the participant's id to the
// Practitioner's identifier. The exchange lost who gave the vaccine and
// who recorded the procedure. It is now the Practitioner the document
// describes under that first id, or a reference by the id when the id
// is an NPI or a local id that no description in the document gives.
func TestParticipantByIDOnly(t *testing.T) {
	check := func(doc string) (map[string][]any, *fhir.Bundle) {
		t.Helper()
		b, _, err := ConvertBytes([]byte(doc), Options{NoBinary: true})
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(b)
		if err := strictR4(js); err != nil {
			t.Errorf("strict R4: %v", err)
		}
		checkReferences(t, b)
		got, _ := convertReview(t, doc)
		return got, b
	}
	pract := func(got map[string][]any, ref string) *fhir.Practitioner {
		for _, x := range got["Practitioner"] {
			p := x.(*fhir.Practitioner)
			if ref == "Practitioner/"+p.ID {
				return p
			}
		}
		return nil
	}
	performer := func(got map[string][]any) string {
		t.Helper()
		im := got["Immunization"][0].(*fhir.Immunization)
		if len(im.Performer) != 1 {
			t.Fatalf("immunization performers %+v, want 1", im.Performer)
		}
		return im.Performer[0].Actor.Reference
	}

	// By the header author's NPI: that Practitioner, no other.
	got, _ := check(reviewDoc("d1", "s1", idOnlyAuthor, idOnlyImm(`<id root="2.16.840.1.113883.4.6" extension="1234567893"/>`, idOnlyProc)))
	p := pract(got, performer(got))
	if p == nil || len(p.Name) == 0 || p.Name[0].Family != "Seven" {
		t.Errorf("performer by the header author's NPI is %+v, want Henry Seven", p)
	}
	pr := got["Procedure"][0].(*fhir.Procedure)
	if pr.Recorder == nil || pract(got, pr.Recorder.Reference) != p {
		t.Errorf("procedure recorder %+v, want the header author (its author by NPI alone)", pr.Recorder)
	}
	if n := len(got["Practitioner"]); n != 2 {
		t.Errorf("%d practitioners, want 2 (the author, the procedure's performer)", n)
	}

	// By an NPI described only later in the document: the one
	// Practitioner, with the name given there.
	got, _ = check(reviewDoc("d1", "s1", "", idOnlyImm(`<id root="2.16.840.1.113883.4.6" extension="1245319599"/>`, idOnlyProc)))
	p = pract(got, performer(got))
	if p == nil || len(p.Name) == 0 || p.Name[0].Family != "Nightingale" {
		t.Errorf("performer by an NPI described later is %+v, want Nancy Nightingale", p)
	}
	if pr := got["Procedure"][0].(*fhir.Procedure); len(pr.Performer) != 1 || pract(got, pr.Performer[0].Actor.Reference) != p {
		t.Errorf("procedure performer %+v, want the immunization's", pr.Performer)
	}

	// By an NPI no description gives: that NPI (no Practitioner
	// without a name is written, TestUnnamedPractitionerNotWritten).
	got, _ = check(reviewDoc("d1", "s1", "", idOnlyImm(`<id root="2.16.840.1.113883.4.6" extension="1679576722"/>`, "")))
	if im := got["Immunization"][0].(*fhir.Immunization); len(im.Performer) != 1 || im.Performer[0].Actor.Identifier == nil ||
		im.Performer[0].Actor.Identifier.Value != "1679576722" || len(got["Practitioner"]) != 0 {
		t.Errorf("performer by an undescribed NPI is %+v, want a reference by NPI 1679576722", im.Performer)
	}

	// A placeholder NPI names no one, and an SSN is not sent: no performer.
	for _, id := range []string{`<id root="2.16.840.1.113883.4.6" extension="5555555555"/>`, `<id root="2.16.840.1.113883.4.1" extension="444222222"/>`} {
		got, _ = check(reviewDoc("d1", "s1", "", idOnlyImm(id, "")))
		if im := got["Immunization"][0].(*fhir.Immunization); len(im.Performer) != 0 || len(got["Practitioner"]) != 0 {
			t.Errorf("%s: performers %+v, practitioners %d; want none", id, im.Performer, len(got["Practitioner"]))
		}
	}
	// ... but a placeholder the document describes refers to that one.
	author := strings.Replace(idOnlyAuthor, "1234567893", "5555555555", 1)
	got, _ = check(reviewDoc("d1", "s1", author, idOnlyImm(`<id root="2.16.840.1.113883.4.6" extension="5555555555"/>`, "")))
	p = pract(got, performer(got))
	if p == nil || len(p.Name) == 0 || p.Name[0].Family != "Seven" || len(got["Practitioner"]) != 1 {
		t.Errorf("performer by a described placeholder NPI is %+v (%d practitioners), want Henry Seven alone", p, len(got["Practitioner"]))
	}
}

// TestUnnamedPractitionerNotWritten: US Core Practitioner has name 1..*,
// and a Practitioner is written whole (PUT), so one the document gives
// no name (a performer or author by an NPI or local id that no
// description in the document carries, as the corpus CCD names its
// smoking status's author, or a person without a name) was refused by a
// validating exchange, and otherwise took away the name the exchange
// held for that doctor from an earlier document or message. As the HL7
// v2 converter does for a doctor given by id alone, no such Practitioner
// is written: what refers to it refers to the doctor by the identifier,
// {"type": "Practitioner", "identifier": ...}, in every mode.
func TestUnnamedPractitionerNotWritten(t *testing.T) {
	for _, mode := range []Mode{ModePutID, ModeConditional} {
		doc := reviewDoc("d1", "s1", "", idOnlyImm(`<id root="2.16.840.1.113883.4.6" extension="1679576722"/>`, ""))
		b, _, err := ConvertBytes([]byte(doc), Options{NoBinary: true, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		checkReferences(t, b)
		var im *fhir.Immunization
		for _, e := range b.Entry {
			switch r := e.Resource.(type) {
			case *fhir.Practitioner:
				if len(r.Name) == 0 {
					t.Errorf("mode %v: Practitioner without a name written: %+v", mode, r)
				}
			case *fhir.Immunization:
				im = r
			}
		}
		if im == nil || len(im.Performer) != 1 {
			t.Fatalf("mode %v: immunization %+v, want one performer", mode, im)
		}
		ref := im.Performer[0].Actor
		if ref.Reference != "" || ref.Type != "Practitioner" || ref.Identifier == nil ||
			ref.Identifier.System != "http://hl7.org/fhir/sid/us-npi" || ref.Identifier.Value != "1679576722" {
			t.Errorf("mode %v: performer %+v, want a reference by NPI 1679576722", mode, ref)
		}
	}
}
