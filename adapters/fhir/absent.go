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

// DataAbsentReasonURL is the extension that says why an element has no
// value (http://hl7.org/fhir/StructureDefinition/data-absent-reason).
const DataAbsentReasonURL = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

// PrimitiveElement is what FHIR JSON writes under "_name" beside a
// primitive: the primitive's own extensions, present with or without a
// value (FHIR R4 JSON, "Representation of primitive elements").
type PrimitiveElement struct {
	Extension []Extension `json:"extension,omitempty"`
}

// AbsentPrimitive is the "_name" element of a primitive a profile makes
// mandatory when the source says nothing of it: the value is left out
// and a data-absent-reason extension with code (usually "unknown") says
// why, as US Core's Missing Data rule asks for non-coded elements.
func AbsentPrimitive(code string) *PrimitiveElement {
	return &PrimitiveElement{Extension: []Extension{{URL: DataAbsentReasonURL, ValueCode: code}}}
}
