package fhir

// Appointment is a FHIR R4 Appointment (SIU scheduling messages).
type Appointment struct {
	ResourceType      string                   `json:"resourceType"` // "Appointment"
	ID                string                   `json:"id,omitempty"`
	Meta              *Meta                    `json:"meta,omitempty"`
	Identifier        []Identifier             `json:"identifier,omitempty"`
	Status            string                   `json:"status"`
	CancelationReason *CodeableConcept         `json:"cancelationReason,omitempty"`
	ServiceType       []CodeableConcept        `json:"serviceType,omitempty"`
	AppointmentType   *CodeableConcept         `json:"appointmentType,omitempty"`
	ReasonCode        []CodeableConcept        `json:"reasonCode,omitempty"`
	Description       string                   `json:"description,omitempty"`
	Start             string                   `json:"start,omitempty"`
	End               string                   `json:"end,omitempty"`
	MinutesDuration   int                      `json:"minutesDuration,omitempty"`
	Comment           string                   `json:"comment,omitempty"`
	Participant       []AppointmentParticipant `json:"participant"`
}

// AppointmentParticipant is one person or place taking part.
type AppointmentParticipant struct {
	Type     []CodeableConcept `json:"type,omitempty"`
	Actor    *Reference        `json:"actor,omitempty"`
	Required string            `json:"required,omitempty"`
	Status   string            `json:"status"`
}
