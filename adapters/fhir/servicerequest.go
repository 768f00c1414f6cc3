package fhir

// ServiceRequest is a FHIR R4 ServiceRequest (an order: ORC/OBR of ORM, OML).
type ServiceRequest struct {
	ResourceType       string            `json:"resourceType"` // "ServiceRequest"
	ID                 string            `json:"id,omitempty"`
	Meta               *Meta             `json:"meta,omitempty"`
	Identifier         []Identifier      `json:"identifier,omitempty"`
	Requisition        *Identifier       `json:"requisition,omitempty"`
	Status             string            `json:"status"`
	Intent             string            `json:"intent"`
	Category           []CodeableConcept `json:"category,omitempty"`
	Priority           string            `json:"priority,omitempty"`
	Code               *CodeableConcept  `json:"code,omitempty"`
	Subject            Reference         `json:"subject"`
	Encounter          *Reference        `json:"encounter,omitempty"`
	OccurrenceDateTime string            `json:"occurrenceDateTime,omitempty"`
	AuthoredOn         string            `json:"authoredOn,omitempty"`
	Requester          *Reference        `json:"requester,omitempty"`
	ReasonCode         []CodeableConcept `json:"reasonCode,omitempty"`
	Specimen           []Reference       `json:"specimen,omitempty"`
	Note               []Annotation      `json:"note,omitempty"`
}
