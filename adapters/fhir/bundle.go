package fhir

// Bundle is a FHIR R4 Bundle. Entries hold their resource as any value that
// marshals to a FHIR resource (a struct of this package, or json.RawMessage).
type Bundle struct {
	ResourceType string        `json:"resourceType"` // always "Bundle"
	ID           string        `json:"id,omitempty"`
	Meta         *Meta         `json:"meta,omitempty"`
	Identifier   *Identifier   `json:"identifier,omitempty"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleEntry is one entry of a Bundle.
type BundleEntry struct {
	FullURL  string         `json:"fullUrl,omitempty"`
	Resource any            `json:"resource,omitempty"`
	Request  *BundleRequest `json:"request,omitempty"`
}

// BundleRequest says how a transaction entry is applied at the receiver.
type BundleRequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	IfNoneExist string `json:"ifNoneExist,omitempty"`
	IfMatch     string `json:"ifMatch,omitempty"`
}
