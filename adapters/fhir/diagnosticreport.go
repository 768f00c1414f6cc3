package fhir

// DiagnosticReport is a FHIR R4 DiagnosticReport (an OBR with its results).
type DiagnosticReport struct {
	ResourceType      string            `json:"resourceType"` // "DiagnosticReport"
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	Identifier        []Identifier      `json:"identifier,omitempty"`
	BasedOn           []Reference       `json:"basedOn,omitempty"`
	Status            string            `json:"status"`
	Category          []CodeableConcept `json:"category,omitempty"`
	Code              CodeableConcept   `json:"code"`
	Subject           *Reference        `json:"subject,omitempty"`
	Encounter         *Reference        `json:"encounter,omitempty"`
	EffectiveDateTime string            `json:"effectiveDateTime,omitempty"`
	// EffectiveDateTimeElement and IssuedElement carry a
	// data-absent-reason when the source gives no time (see AbsentTimes).
	EffectiveDateTimeElement *PrimitiveElement `json:"_effectiveDateTime,omitempty"`
	EffectivePeriod          *Period           `json:"effectivePeriod,omitempty"`
	Issued                   string            `json:"issued,omitempty"`
	IssuedElement            *PrimitiveElement `json:"_issued,omitempty"`
	Performer                []Reference       `json:"performer,omitempty"`
	ResultsInterpreter       []Reference       `json:"resultsInterpreter,omitempty"`
	Specimen                 []Reference       `json:"specimen,omitempty"`
	Result                   []Reference       `json:"result,omitempty"`
	Conclusion               string            `json:"conclusion,omitempty"`
	PresentedForm            []Attachment      `json:"presentedForm,omitempty"`
}

// AbsentTimes gives a report that has released results and no
// effective[x] or no issued a data-absent-reason "unknown" in its place.
// US Core's lab report (6.1, as since 5.0) has us-core-8 "effective[x]
// SHALL be present if the status is 'partial', 'preliminary', 'final',
// 'amended', 'corrected' or 'appended'" and us-core-9, the same of
// issued; a report still registered, cancelled or of unknown status
// needs neither.
func (r *DiagnosticReport) AbsentTimes() {
	switch r.Status {
	case "partial", "preliminary", "final", "amended", "corrected", "appended":
	default:
		return
	}
	if r.EffectiveDateTime == "" && r.EffectivePeriod == nil {
		r.EffectiveDateTimeElement = AbsentPrimitive("unknown")
	}
	if r.Issued == "" {
		r.IssuedElement = AbsentPrimitive("unknown")
	}
}
