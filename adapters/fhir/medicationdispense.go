package fhir

// MedicationDispense is a FHIR R4 MedicationDispense (a pharmacy's supply
// of a medication against an order; HL7 v2 RDS^O13 RXD).
type MedicationDispense struct {
	ResourceType              string                        `json:"resourceType"` // "MedicationDispense"
	ID                        string                        `json:"id,omitempty"`
	Meta                      *Meta                         `json:"meta,omitempty"`
	Identifier                []Identifier                  `json:"identifier,omitempty"`
	Status                    string                        `json:"status"`
	MedicationCodeableConcept *CodeableConcept              `json:"medicationCodeableConcept,omitempty"`
	MedicationReference       *Reference                    `json:"medicationReference,omitempty"`
	Subject                   *Reference                    `json:"subject,omitempty"`
	Context                   *Reference                    `json:"context,omitempty"`
	SupportingInformation     []Reference                   `json:"supportingInformation,omitempty"`
	Performer                 []MedicationDispensePerformer `json:"performer,omitempty"`
	AuthorizingPrescription   []Reference                   `json:"authorizingPrescription,omitempty"`
	Type                      *CodeableConcept              `json:"type,omitempty"`
	Quantity                  *Quantity                     `json:"quantity,omitempty"`
	WhenPrepared              string                        `json:"whenPrepared,omitempty"`
	WhenHandedOver            string                        `json:"whenHandedOver,omitempty"`
	Note                      []Annotation                  `json:"note,omitempty"`
	DosageInstruction         []Dosage                      `json:"dosageInstruction,omitempty"`
}

// MedicationDispensePerformer is one MedicationDispense.performer.
type MedicationDispensePerformer struct {
	Function *CodeableConcept `json:"function,omitempty"`
	Actor    Reference        `json:"actor"`
}
