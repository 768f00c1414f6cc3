package fhir

// Observation is a FHIR R4 Observation (an OBX result). Exactly one value[x]
// is set, or none with DataAbsentReason.
type Observation struct {
	ResourceType         string                      `json:"resourceType"` // "Observation"
	ID                   string                      `json:"id,omitempty"`
	Meta                 *Meta                       `json:"meta,omitempty"`
	Identifier           []Identifier                `json:"identifier,omitempty"`
	BasedOn              []Reference                 `json:"basedOn,omitempty"`
	PartOf               []Reference                 `json:"partOf,omitempty"`
	Status               string                      `json:"status"`
	Category             []CodeableConcept           `json:"category,omitempty"`
	Code                 CodeableConcept             `json:"code"`
	Subject              *Reference                  `json:"subject,omitempty"`
	Encounter            *Reference                  `json:"encounter,omitempty"`
	EffectiveDateTime    string                      `json:"effectiveDateTime,omitempty"`
	EffectivePeriod      *Period                     `json:"effectivePeriod,omitempty"`
	Issued               string                      `json:"issued,omitempty"`
	Performer            []Reference                 `json:"performer,omitempty"`
	ValueQuantity        *Quantity                   `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept            `json:"valueCodeableConcept,omitempty"`
	ValueString          string                      `json:"valueString,omitempty"`
	ValueBoolean         *bool                       `json:"valueBoolean,omitempty"`
	ValueInteger         *int                        `json:"valueInteger,omitempty"`
	ValueRange           *Range                      `json:"valueRange,omitempty"`
	ValueRatio           *Ratio                      `json:"valueRatio,omitempty"`
	ValueTime            string                      `json:"valueTime,omitempty"`
	ValueDateTime        string                      `json:"valueDateTime,omitempty"`
	ValuePeriod          *Period                     `json:"valuePeriod,omitempty"`
	DataAbsentReason     *CodeableConcept            `json:"dataAbsentReason,omitempty"`
	Interpretation       []CodeableConcept           `json:"interpretation,omitempty"`
	Note                 []Annotation                `json:"note,omitempty"`
	BodySite             *CodeableConcept            `json:"bodySite,omitempty"`
	Method               *CodeableConcept            `json:"method,omitempty"`
	Specimen             *Reference                  `json:"specimen,omitempty"`
	ReferenceRange       []ObservationReferenceRange `json:"referenceRange,omitempty"`
	HasMember            []Reference                 `json:"hasMember,omitempty"`
	DerivedFrom          []Reference                 `json:"derivedFrom,omitempty"`
	// Component holds values that belong together under one code, such
	// as the repetitions of an HL7 v2 OBX-5 (R4 value[x] does not repeat).
	Component []ObservationComponent `json:"component,omitempty"`
}

// ObservationComponent is one component of an Observation: a code and
// its value (R4 Observation.component, the value types ferry produces).
type ObservationComponent struct {
	Code                 CodeableConcept  `json:"code"`
	ValueQuantity        *Quantity        `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueRange           *Range           `json:"valueRange,omitempty"`
	ValueRatio           *Ratio           `json:"valueRatio,omitempty"`
	ValueTime            string           `json:"valueTime,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValuePeriod          *Period          `json:"valuePeriod,omitempty"`
	DataAbsentReason     *CodeableConcept `json:"dataAbsentReason,omitempty"`
	// Interpretation and ReferenceRange are the component's own (a
	// blood pressure's systolic reading high, its diastolic normal).
	Interpretation []CodeableConcept           `json:"interpretation,omitempty"`
	ReferenceRange []ObservationReferenceRange `json:"referenceRange,omitempty"`
}

// ObservationReferenceRange is a normal range for a result.
type ObservationReferenceRange struct {
	Low  *Quantity `json:"low,omitempty"`
	High *Quantity `json:"high,omitempty"`
	Text string    `json:"text,omitempty"`
}
