package fhir

// Encounter is a FHIR R4 Encounter (a visit, from PV1/PV2).
type Encounter struct {
	ResourceType    string                    `json:"resourceType"` // "Encounter"
	ID              string                    `json:"id,omitempty"`
	Meta            *Meta                     `json:"meta,omitempty"`
	Identifier      []Identifier              `json:"identifier,omitempty"`
	Status          string                    `json:"status"`
	Class           Coding                    `json:"class"`
	Type            []CodeableConcept         `json:"type,omitempty"`
	ServiceType     *CodeableConcept          `json:"serviceType,omitempty"`
	Priority        *CodeableConcept          `json:"priority,omitempty"`
	Subject         *Reference                `json:"subject,omitempty"`
	Participant     []EncounterParticipant    `json:"participant,omitempty"`
	Period          *Period                   `json:"period,omitempty"`
	ReasonCode      []CodeableConcept         `json:"reasonCode,omitempty"`
	Diagnosis       []EncounterDiagnosis      `json:"diagnosis,omitempty"`
	Hospitalization *EncounterHospitalization `json:"hospitalization,omitempty"`
	Location        []EncounterLocation       `json:"location,omitempty"`
	ServiceProvider *Reference                `json:"serviceProvider,omitempty"`
}

// EncounterParticipant is a practitioner involved in the encounter.
type EncounterParticipant struct {
	Type       []CodeableConcept `json:"type,omitempty"`
	Period     *Period           `json:"period,omitempty"`
	Individual *Reference        `json:"individual,omitempty"`
}

// EncounterDiagnosis links a Condition to the encounter.
type EncounterDiagnosis struct {
	Condition Reference        `json:"condition"`
	Use       *CodeableConcept `json:"use,omitempty"`
	Rank      int              `json:"rank,omitempty"`
}

// EncounterHospitalization holds admission and discharge details.
type EncounterHospitalization struct {
	PreAdmissionIdentifier *Identifier       `json:"preAdmissionIdentifier,omitempty"`
	AdmitSource            *CodeableConcept  `json:"admitSource,omitempty"`
	ReAdmission            *CodeableConcept  `json:"reAdmission,omitempty"`
	SpecialCourtesy        []CodeableConcept `json:"specialCourtesy,omitempty"`
	DischargeDisposition   *CodeableConcept  `json:"dischargeDisposition,omitempty"`
}

// EncounterLocation is where the patient was during the encounter.
type EncounterLocation struct {
	Extension []Extension `json:"extension,omitempty"`
	Location  Reference   `json:"location"`
	Status    string      `json:"status,omitempty"`
	Period    *Period     `json:"period,omitempty"`
}
