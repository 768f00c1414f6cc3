package fhir

// ServiceRequest is a FHIR R4 ServiceRequest (an order: ORC/OBR of ORM, OML;
// a referral: RF1 of REF).
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
	OccurrencePeriod   *Period           `json:"occurrencePeriod,omitempty"`
	AuthoredOn         string            `json:"authoredOn,omitempty"`
	Requester          *Reference        `json:"requester,omitempty"`
	PerformerType      *CodeableConcept  `json:"performerType,omitempty"`
	Performer          []Reference       `json:"performer,omitempty"`
	ReasonCode         []CodeableConcept `json:"reasonCode,omitempty"`
	ReasonReference    []Reference       `json:"reasonReference,omitempty"`
	Insurance          []Reference       `json:"insurance,omitempty"`
	SupportingInfo     []Reference       `json:"supportingInfo,omitempty"`
	Specimen           []Reference       `json:"specimen,omitempty"`
	Note               []Annotation      `json:"note,omitempty"`
}
