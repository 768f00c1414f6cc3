package fhir

// Specimen is a FHIR R4 Specimen (SPM: what a lab result was measured on).
type Specimen struct {
	ResourceType        string              `json:"resourceType"` // "Specimen"
	ID                  string              `json:"id,omitempty"`
	Meta                *Meta               `json:"meta,omitempty"`
	Identifier          []Identifier        `json:"identifier,omitempty"`
	AccessionIdentifier *Identifier         `json:"accessionIdentifier,omitempty"`
	Status              string              `json:"status,omitempty"`
	Type                *CodeableConcept    `json:"type,omitempty"`
	Subject             *Reference          `json:"subject,omitempty"`
	ReceivedTime        string              `json:"receivedTime,omitempty"`
	Request             []Reference         `json:"request,omitempty"`
	Collection          *SpecimenCollection `json:"collection,omitempty"`
	Condition           []CodeableConcept   `json:"condition,omitempty"`
	Note                []Annotation        `json:"note,omitempty"`
}

// SpecimenCollection is how and when the specimen was taken.
type SpecimenCollection struct {
	Collector         *Reference       `json:"collector,omitempty"`
	CollectedDateTime string           `json:"collectedDateTime,omitempty"`
	CollectedPeriod   *Period          `json:"collectedPeriod,omitempty"`
	Quantity          *Quantity        `json:"quantity,omitempty"`
	Method            *CodeableConcept `json:"method,omitempty"`
	BodySite          *CodeableConcept `json:"bodySite,omitempty"`
}
