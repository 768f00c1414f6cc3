package fhir

// Patient is a FHIR R4 Patient, shaped for US Core Patient: identifier and
// name are what a receiver matches on, so converters always fill them.
type Patient struct {
	ResourceType         string                 `json:"resourceType"` // "Patient"
	ID                   string                 `json:"id,omitempty"`
	Meta                 *Meta                  `json:"meta,omitempty"`
	Extension            []Extension            `json:"extension,omitempty"`
	Identifier           []Identifier           `json:"identifier,omitempty"`
	Active               *bool                  `json:"active,omitempty"`
	Name                 []HumanName            `json:"name,omitempty"`
	Telecom              []ContactPoint         `json:"telecom,omitempty"`
	Gender               string                 `json:"gender,omitempty"`
	BirthDate            string                 `json:"birthDate,omitempty"`
	BirthDateElement     *PrimitiveElement      `json:"_birthDate,omitempty"` // the patient-birthTime extension
	DeceasedBoolean      *bool                  `json:"deceasedBoolean,omitempty"`
	DeceasedDateTime     string                 `json:"deceasedDateTime,omitempty"`
	Address              []Address              `json:"address,omitempty"`
	MaritalStatus        *CodeableConcept       `json:"maritalStatus,omitempty"`
	MultipleBirthBoolean *bool                  `json:"multipleBirthBoolean,omitempty"`
	MultipleBirthInteger *int                   `json:"multipleBirthInteger,omitempty"`
	Contact              []PatientContact       `json:"contact,omitempty"`
	Communication        []PatientCommunication `json:"communication,omitempty"`
	GeneralPractitioner  []Reference            `json:"generalPractitioner,omitempty"`
	ManagingOrganization *Reference             `json:"managingOrganization,omitempty"`
	Link                 []PatientLink          `json:"link,omitempty"`
}

// PatientContact is a Patient.contact (next of kin, emergency contact).
type PatientContact struct {
	Relationship []CodeableConcept `json:"relationship,omitempty"`
	Name         *HumanName        `json:"name,omitempty"`
	Telecom      []ContactPoint    `json:"telecom,omitempty"`
	Address      *Address          `json:"address,omitempty"`
	Gender       string            `json:"gender,omitempty"`
	Organization *Reference        `json:"organization,omitempty"`
	Period       *Period           `json:"period,omitempty"`
}

// PatientCommunication is a language the patient speaks.
type PatientCommunication struct {
	Language  CodeableConcept `json:"language"`
	Preferred *bool           `json:"preferred,omitempty"`
}

// PatientLink links duplicate records, e.g. replaced-by after a merge.
type PatientLink struct {
	Other Reference `json:"other"`
	Type  string    `json:"type"` // replaced-by | replaces | refer | seealso
}
