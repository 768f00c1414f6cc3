package fhir

// List is a FHIR R4 List. IHE MHD uses it for SubmissionSets and Folders
// (code MHDlistTypes#submissionset / #folder), so it carries extensions.
type List struct {
	ResourceType string           `json:"resourceType"` // "List"
	ID           string           `json:"id,omitempty"`
	Meta         *Meta            `json:"meta,omitempty"`
	Extension    []Extension      `json:"extension,omitempty"`
	Identifier   []Identifier     `json:"identifier,omitempty"`
	Status       string           `json:"status"`
	Mode         string           `json:"mode"`
	Title        string           `json:"title,omitempty"`
	Code         *CodeableConcept `json:"code,omitempty"`
	Subject      *Reference       `json:"subject,omitempty"`
	Date         string           `json:"date,omitempty"`
	Source       *Reference       `json:"source,omitempty"`
	Note         []Annotation     `json:"note,omitempty"`
	Entry        []ListEntry      `json:"entry,omitempty"`
}

// ListEntry is List.entry.
type ListEntry struct {
	Item Reference `json:"item"`
}
