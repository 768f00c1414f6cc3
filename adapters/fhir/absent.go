package fhir

// DataAbsentReasonSystem is the code system of the data-absent-reason
// codes (terminology.hl7.org CodeSystem/data-absent-reason).
const DataAbsentReasonSystem = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

// UnknownConcept is the CodeableConcept a converter writes for a coded
// element a profile makes mandatory when the source says nothing about
// it. US Core's "Missing Data" rule: a required coded element whose value
// set has no "unknown" concept of its own carries data-absent-reason
// "unknown", never a guessed code. Each call returns a new value, so a
// caller may append to it.
func UnknownConcept() CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: DataAbsentReasonSystem, Code: "unknown", Display: "Unknown"}}}
}
