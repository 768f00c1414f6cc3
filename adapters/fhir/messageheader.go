package fhir

// MessageHeader is a FHIR R4 MessageHeader: what the converted v2 message
// said about itself (MSH), kept so the receiver can trace the source.
type MessageHeader struct {
	ResourceType string                     `json:"resourceType"` // "MessageHeader"
	ID           string                     `json:"id,omitempty"`
	Meta         *Meta                      `json:"meta,omitempty"`
	Extension    []Extension                `json:"extension,omitempty"`
	EventCoding  *Coding                    `json:"eventCoding,omitempty"`
	EventURI     string                     `json:"eventUri,omitempty"`
	Destination  []MessageHeaderDestination `json:"destination,omitempty"`
	Sender       *Reference                 `json:"sender,omitempty"`
	Source       MessageHeaderSource        `json:"source"`
	Reason       *CodeableConcept           `json:"reason,omitempty"`
	Focus        []Reference                `json:"focus,omitempty"`
	Definition   string                     `json:"definition,omitempty"`
}

// MessageHeaderDestination is a receiving application (MSH-5/6).
type MessageHeaderDestination struct {
	Name     string     `json:"name,omitempty"`
	Endpoint string     `json:"endpoint"`
	Receiver *Reference `json:"receiver,omitempty"`
}

// MessageHeaderSource is the sending application (MSH-3/4).
type MessageHeaderSource struct {
	Name     string `json:"name,omitempty"`
	Software string `json:"software,omitempty"`
	Version  string `json:"version,omitempty"`
	Endpoint string `json:"endpoint"`
}
