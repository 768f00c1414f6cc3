package ccdafhir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestGuardianIsPatientContact: the patient's guardian
// (recordTarget/patientRole/patient/guardian: who answers for a child or
// holds a power of attorney, with how to reach them) was not read, so
// every document of the shared corpus, each of which gives one, reached
// the exchange without it, and in ModePutID the C-CDA's Patient, written
// whole under the id the ADT feed's has, took away the contacts an ADT's
// NK1 had given it. FHIR's CDA mapping has "contact | .patient.guardian",
// its relationship the guardian's code, its name, telecom, address and
// organization the guardian's; the contact is now written so, its
// relationship v3-RoleCode GUARD beside the code the document gives.
func TestGuardianIsPatientContact(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(corpusDir, "C-CDA_R2-1_CCD.xml"))
	if err != nil {
		t.Skip("corpus not present at " + corpusDir)
	}
	b, _, err := ConvertBytes(raw, Options{NoBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	p := b.Entry[0].Resource.(*fhir.Patient)
	if len(p.Contact) != 1 {
		t.Fatalf("C-CDA_R2-1_CCD.xml: Patient.contact = %+v, want the guardian Boris Betterhalf", p.Contact)
	}
	g := p.Contact[0]
	if g.Name == nil || g.Name.Family != "Betterhalf" || strings.Join(g.Name.Given, " ") != "Boris" {
		t.Errorf("guardian name = %+v, want Boris Betterhalf", g.Name)
	}
	if len(g.Telecom) != 1 || g.Telecom[0].Value != "+1(555)555-2008" || g.Telecom[0].Use != "mobile" {
		t.Errorf("guardian telecom = %+v, want the mobile +1(555)555-2008", g.Telecom)
	}
	if g.Address == nil || g.Address.City != "Beaverton" || g.Address.Use != "home" {
		t.Errorf("guardian address = %+v, want the home in Beaverton", g.Address)
	}
	if codes := relationshipCodes(g); codes != "GUARD POWATT" {
		t.Errorf("guardian relationship = %s, want GUARD POWATT", codes)
	}

	// A guardian that is an organization (a county's child services),
	// and one that gives nothing to reach or name it, which pat-1 allows
	// no contact for.
	doc := strings.Replace(reviewDoc("d1", "s1", "", ""), `<birthTime value="19800101"/>`, `<birthTime value="19800101"/>
   <guardian><code code="GUARD" codeSystem="2.16.840.1.113883.5.111"/>
    <guardianOrganization><id root="1.2.3.77" extension="cps"/><name>County Child Services</name></guardianOrganization></guardian>
   <guardian><code code="MTH" codeSystem="2.16.840.1.113883.5.111"/></guardian>`, 1)
	got, _ := convertReview(t, doc)
	p = got["Patient"][0].(*fhir.Patient)
	if len(p.Contact) != 1 || p.Contact[0].Organization == nil || p.Contact[0].Name != nil {
		t.Fatalf("Patient.contact = %+v, want the organization alone", p.Contact)
	}
	if codes := relationshipCodes(p.Contact[0]); codes != "GUARD" {
		t.Errorf("relationship = %s, want GUARD once", codes)
	}
	org := ""
	for _, o := range got["Organization"] {
		if o := o.(*fhir.Organization); p.Contact[0].Organization.Reference == "Organization/"+o.ID {
			org = o.Name
		}
	}
	if org != "County Child Services" {
		t.Errorf("contact organization %q, want County Child Services", org)
	}
}

// relationshipCodes lists the codes of a contact's relationships.
func relationshipCodes(c fhir.PatientContact) string {
	var codes []string
	for _, r := range c.Relationship {
		for _, x := range r.Coding {
			codes = append(codes, x.Code)
		}
	}
	return strings.Join(codes, " ")
}
