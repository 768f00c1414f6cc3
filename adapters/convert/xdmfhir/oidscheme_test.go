package xdmfhir

import (
	"testing"
	"time"
)

// TestCodingSchemeAsURN: a codingScheme written as the OID's URN
// (urn:oid:2.16.840.1.113883.6.1, as packages made from FHIR or by
// some Direct HISPs give it) is the same code system as the bare OID.
// It was copied as the system, so a LOINC typeCode went as UNK with
// the original beside it (US Core binds the type to LOINC by
// http://loinc.org) and a SNOMED CT practice setting under a system no
// exchange matches; FHIR R4 wants the code system's own URI ("If a URI
// is defined here, it SHALL be used in preference to any other
// identifying mechanisms", Terminology Systems).
func TestCodingSchemeAsURN(t *testing.T) {
	e := referralEntry()
	e.TypeCode = &Code{"57133-1", "urn:oid:2.16.840.1.113883.6.1", "Referral note"}
	e.PracticeSetting = &Code{"394802001", "URN:OID:2.16.840.1.113883.6.96", "General medicine"}
	e.ClassCode = &Code{"REFERRAL", "urn:oid:1.3.6.1.4.1.21367.100.1", "Referral"}
	d := (&Converter{}).Document(e, time.Time{})
	if d.Type == nil || len(d.Type.Coding) != 1 || d.Type.Coding[0].System != "http://loinc.org" || d.Type.Coding[0].Code != "57133-1" {
		t.Errorf("type %+v, want LOINC 57133-1 alone", d.Type)
	}
	if d.PracticeSetting == nil || d.PracticeSetting.Coding[0].System != "http://snomed.info/sct" {
		t.Errorf("practice setting %+v, want SNOMED CT", d.PracticeSetting)
	}
	if len(d.Category) != 2 || d.Category[1].Coding[0].System != "urn:oid:1.3.6.1.4.1.21367.100.1" {
		t.Errorf("category %+v, want the class code under urn:oid:1.3.6.1.4.1.21367.100.1", d.Category)
	}
}
