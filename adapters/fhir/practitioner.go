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
