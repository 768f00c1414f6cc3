package fhir

// DocumentReference is a FHIR R4 DocumentReference: the index entry for a
// whole clinical document (C-CDA, fax PDF), pointing at its bytes in a Binary.
type DocumentReference struct {
	ResourceType     string                     `json:"resourceType"` // "DocumentReference"
	ID               string                     `json:"id,omitempty"`
	Meta             *Meta                      `json:"meta,omitempty"`
	MasterIdentifier *Identifier                `json:"masterIdentifier,omitempty"`
	Identifier       []Identifier               `json:"identifier,omitempty"`
	Status           string                     `json:"status"`
	DocStatus        string                     `json:"docStatus,omitempty"`
	Type             *CodeableConcept           `json:"type,omitempty"`
	Category         []CodeableConcept          `json:"category,omitempty"`
	Subject          *Reference                 `json:"subject,omitempty"`
	Date             string                     `json:"date,omitempty"` // instant
	Author           []Reference                `json:"author,omitempty"`
	Authenticator    *Reference                 `json:"authenticator,omitempty"`
	Custodian        *Reference                 `json:"custodian,omitempty"`
	RelatesTo        []DocumentReferenceRelates `json:"relatesTo,omitempty"`
	Description      string                     `json:"description,omitempty"`
	SecurityLabel    []CodeableConcept          `json:"securityLabel,omitempty"`
	Content          []DocumentReferenceContent `json:"content"`
	Context          *DocumentReferenceContext  `json:"context,omitempty"`
}

// DocumentReferenceRelates is DocumentReference.relatesTo (replaces, appends).
type DocumentReferenceRelates struct {
	Code   string     `json:"code"`
	Target *Reference `json:"target"`
}

// DocumentReferenceContent is DocumentReference.content.
type DocumentReferenceContent struct {
	Attachment Attachment `json:"attachment"`
	Format     *Coding    `json:"format,omitempty"`
}

// DocumentReferenceContext is DocumentReference.context.
type DocumentReferenceContext struct {
	Encounter         []Reference       `json:"encounter,omitempty"`
	Event             []CodeableConcept `json:"event,omitempty"`
	Period            *Period           `json:"period,omitempty"`
	FacilityType      *CodeableConcept  `json:"facilityType,omitempty"`
	PracticeSetting   *CodeableConcept  `json:"practiceSetting,omitempty"`
	SourcePatientInfo *Reference        `json:"sourcePatientInfo,omitempty"`
	Related           []Reference       `json:"related,omitempty"`
}

// Binary is a FHIR R4 Binary. Data is base64 in JSON ([]byte does that).
type Binary struct {
	ResourceType    string     `json:"resourceType"` // "Binary"
	ID              string     `json:"id,omitempty"`
	Meta            *Meta      `json:"meta,omitempty"`
	ContentType     string     `json:"contentType"`
	SecurityContext *Reference `json:"securityContext,omitempty"`
	Data            []byte     `json:"data,omitempty"`
}

// Composition is a FHIR R4 Composition, the header of a FHIR document.
type Composition struct {
	ResourceType    string               `json:"resourceType"` // "Composition"
	ID              string               `json:"id,omitempty"`
	Meta            *Meta                `json:"meta,omitempty"`
	Identifier      *Identifier          `json:"identifier,omitempty"`
	Status          string               `json:"status"`
	Type            *CodeableConcept     `json:"type"`
	Category        []CodeableConcept    `json:"category,omitempty"`
	Subject         *Reference           `json:"subject,omitempty"`
	Encounter       *Reference           `json:"encounter,omitempty"`
	Date            string               `json:"date"`
	Author          []Reference          `json:"author"`
	Title           string               `json:"title"`
	Confidentiality string               `json:"confidentiality,omitempty"`
	Custodian       *Reference           `json:"custodian,omitempty"`
	Section         []CompositionSection `json:"section,omitempty"`
}

// CompositionSection is Composition.section.
type CompositionSection struct {
	Title   string               `json:"title,omitempty"`
	Code    *CodeableConcept     `json:"code,omitempty"`
	Text    *Narrative           `json:"text,omitempty"`
	Entry   []Reference          `json:"entry,omitempty"`
	Section []CompositionSection `json:"section,omitempty"`
}
