package fhir

// Provenance is a FHIR R4 Provenance: who produced the target resources and
// from what, e.g. a v2-to-FHIR transformation of an original message.
type Provenance struct {
	ResourceType     string             `json:"resourceType"` // "Provenance"
	ID               string             `json:"id,omitempty"`
	Meta             *Meta              `json:"meta,omitempty"`
	Target           []Reference        `json:"target"`
	OccurredDateTime string             `json:"occurredDateTime,omitempty"`
	Recorded         string             `json:"recorded"`
	Policy           []string           `json:"policy,omitempty"`
	Reason           []CodeableConcept  `json:"reason,omitempty"`
	Activity         *CodeableConcept   `json:"activity,omitempty"`
	Agent            []ProvenanceAgent  `json:"agent"`
	Entity           []ProvenanceEntity `json:"entity,omitempty"`
}

// ProvenanceAgent is an actor in the activity.
type ProvenanceAgent struct {
	Type       *CodeableConcept  `json:"type,omitempty"`
	Role       []CodeableConcept `json:"role,omitempty"`
	Who        Reference         `json:"who"`
	OnBehalfOf *Reference        `json:"onBehalfOf,omitempty"`
}

// ProvenanceEntity is an input to the activity (role "source").
type ProvenanceEntity struct {
	Role string    `json:"role"`
	What Reference `json:"what"`
}
