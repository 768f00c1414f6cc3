package ccdafhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestPatientMultipleBirth: a twin's document says so in the patient's
// sdtc:multipleBirthInd and sdtc:multipleBirthOrderNumber (CDA R2's SDTC
// extensions, allowed by C-CDA), which FHIR R4 has as
// Patient.multipleBirth[x] (multipleBirthInteger "indicates the actual
// birth order"). ferry dropped both, so a twin's Patient from a C-CDA
// said nothing of it, though from an ADT's PID-24 and PID-25 it does, and
// a PUT of it (ModePutID, the same Patient id) erased what the ADT wrote:
// twins share a birth date, an address and a family name, and an MPI
// tells them apart by it.
func TestPatientMultipleBirth(t *testing.T) {
	for _, c := range []struct {
		sdtc  string
		boolV *bool
		intV  *int
	}{
		{`<sdtc:multipleBirthInd value="true"/><sdtc:multipleBirthOrderNumber value="2"/>`, nil, ptr(2)},
		{`<sdtc:multipleBirthInd value="true"/>`, ptr(true), nil},
		{`<sdtc:multipleBirthInd value="false"/>`, ptr(false), nil},
		{`<sdtc:multipleBirthOrderNumber value="1"/>`, nil, ptr(1)},
		{``, nil, nil},
	} {
		doc := strings.Replace(reviewDoc("d1", "s1", "", ""), `<birthTime value="19800101"/>`,
			`<birthTime value="19800101"/>`+c.sdtc, 1)
		doc = strings.Replace(doc, `<ClinicalDocument xmlns="urn:hl7-org:v3"`, `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc"`, 1)
		got, _ := convertReview(t, doc)
		p := got["Patient"][0].(*fhir.Patient)
		if !sameOpt(p.MultipleBirthBoolean, c.boolV) || !sameOpt(p.MultipleBirthInteger, c.intV) {
			t.Errorf("%s: multipleBirthBoolean %v, multipleBirthInteger %v; want %v, %v", c.sdtc,
				deref(p.MultipleBirthBoolean), deref(p.MultipleBirthInteger), deref(c.boolV), deref(c.intV))
		}
	}
}

func sameOpt[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
