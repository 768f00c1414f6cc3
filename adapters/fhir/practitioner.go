package fhir

// Practitioner is a FHIR R4 Practitioner (an XCN: attending, ordering,
// responsible observer).
type Practitioner struct {
	ResourceType string         `json:"resourceType"` // "Practitioner"
	ID           string         `json:"id,omitempty"`
	Meta         *Meta          `json:"meta,omitempty"`
	Identifier   []Identifier   `json:"identifier,omitempty"`
	Active       *bool          `json:"active,omitempty"`
	Name         []HumanName    `json:"name,omitempty"`
	Telecom      []ContactPoint `json:"telecom,omitempty"`
	Address      []Address      `json:"address,omitempty"`
	Gender       string         `json:"gender,omitempty"`
}

// PractitionerRole is a FHIR R4 PractitionerRole: a practitioner's role
// at an organization (OBX-25, a performing organization's medical
// director).
type PractitionerRole struct {
	ResourceType string            `json:"resourceType"` // "PractitionerRole"
	ID           string            `json:"id,omitempty"`
	Meta         *Meta             `json:"meta,omitempty"`
	Identifier   []Identifier      `json:"identifier,omitempty"`
	Practitioner *Reference        `json:"practitioner,omitempty"`
	Organization *Reference        `json:"organization,omitempty"`
	Code         []CodeableConcept `json:"code,omitempty"`
}
