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

// Provenance agent types (Provenance.agent.type), shared by every
// converter and read-only: THO's provenance-participant-type. US Core 6.1
// (the version HTI-1 names) has the transmitter in its own code system;
// US Core 7 and later take THO's, which STANDARDS.md names. Both codings
// say the same, so either profile's slice finds its own.
var (
	ProvenanceAssembler   = &CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", Code: "assembler", Display: "Assembler"}}}
	ProvenanceAuthor      = &CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", Code: "author", Display: "Author"}}}
	ProvenanceTransmitter = &CodeableConcept{Coding: []Coding{
		{System: "http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type", Code: "transmitter", Display: "Transmitter"},
		{System: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", Code: "transmitter", Display: "Transmitter"},
	}}
)
