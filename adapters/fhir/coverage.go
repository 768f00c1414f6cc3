package fhir

// Coverage is a FHIR R4 Coverage (an insurance plan, from IN1).
type Coverage struct {
	ResourceType string           `json:"resourceType"` // "Coverage"
	ID           string           `json:"id,omitempty"`
	Meta         *Meta            `json:"meta,omitempty"`
	Identifier   []Identifier     `json:"identifier,omitempty"`
	Status       string           `json:"status"`
	Type         *CodeableConcept `json:"type,omitempty"`
	Subscriber   *Reference       `json:"subscriber,omitempty"`
	SubscriberID string           `json:"subscriberId,omitempty"`
	Beneficiary  Reference        `json:"beneficiary"`
	Dependent    string           `json:"dependent,omitempty"`
	Relationship *CodeableConcept `json:"relationship,omitempty"`
	Period       *Period          `json:"period,omitempty"`
	Payor        []Reference      `json:"payor"`
	Class        []CoverageClass  `json:"class,omitempty"`
	Order        int              `json:"order,omitempty"`
	Network      string           `json:"network,omitempty"`
}

// CoverageClass is a plan, group or other classification of a Coverage.
type CoverageClass struct {
	Type  CodeableConcept `json:"type"`
	Value string          `json:"value"`
	Name  string          `json:"name,omitempty"`
}
