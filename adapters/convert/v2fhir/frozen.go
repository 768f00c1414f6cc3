package v2fhir

import "github.com/ferry-health/ferry/adapters/fhir"

// The shared, read-only codes every bundle carries (Provenance activity
// and agent types, identifier types, observation and report categories,
// condition statuses) are encoded once: the JSON encoder copies their
// bytes instead of walking them in every bundle (fhir.Freeze). None of
// them is ever modified: they are shared by all conversions.
func init() {
	for _, cc := range []*fhir.CodeableConcept{provenanceActivity, fhir.ProvenanceAssembler, fhir.ProvenanceAuthor, fhir.ProvenanceTransmitter, referralCode} {
		mustFreeze(cc)
	}
	for _, m := range []map[string]*fhir.CodeableConcept{identifierTypes, problemClinical, problemVerification} {
		for _, cc := range m {
			mustFreeze(cc)
		}
	}
	for _, m := range []map[string][]fhir.CodeableConcept{observationCategories, sectionCategories} {
		for _, ccs := range m {
			mustFreeze(ccs)
		}
	}
}

func mustFreeze(v any) {
	if err := fhir.Freeze(v); err != nil {
		panic(err)
	}
}
