package fhir

import "encoding/json"

// AllergyIntolerance is a FHIR R4 AllergyIntolerance. It is written by the
// C-CDA converter from Allergy Concern Acts, including "no known allergy"
// statements, which FHIR expresses as a positive code rather than a negation.
type AllergyIntolerance struct {
	ResourceType       string                       `json:"resourceType"` // "AllergyIntolerance"
	ID                 string                       `json:"id,omitempty"`
	Meta               *Meta                        `json:"meta,omitempty"`
	Identifier         []Identifier                 `json:"identifier,omitempty"`
	ClinicalStatus     *CodeableConcept             `json:"clinicalStatus,omitempty"`
	VerificationStatus *CodeableConcept             `json:"verificationStatus,omitempty"`
	Type               string                       `json:"type,omitempty"`
	Category           []string                     `json:"category,omitempty"`
	Criticality        string                       `json:"criticality,omitempty"`
	Code               *CodeableConcept             `json:"code,omitempty"`
	Patient            *Reference                   `json:"patient"`
	Encounter          *Reference                   `json:"encounter,omitempty"`
	OnsetDateTime      string                       `json:"onsetDateTime,omitempty"`
	OnsetPeriod        *Period                      `json:"onsetPeriod,omitempty"`
	RecordedDate       string                       `json:"recordedDate,omitempty"`
	Recorder           *Reference                   `json:"recorder,omitempty"`
	LastOccurrence     string                       `json:"lastOccurrence,omitempty"`
	Note               []Annotation                 `json:"note,omitempty"`
	Reaction           []AllergyIntoleranceReaction `json:"reaction,omitempty"`
}

// AllergyIntoleranceReaction is one AllergyIntolerance.reaction.
type AllergyIntoleranceReaction struct {
	Substance     *CodeableConcept  `json:"substance,omitempty"`
	Manifestation []CodeableConcept `json:"manifestation"`
	Description   string            `json:"description,omitempty"`
	Onset         string            `json:"onset,omitempty"`
	Severity      string            `json:"severity,omitempty"`
}

// Condition is a FHIR R4 Condition (problem-list item, encounter diagnosis
// or health concern).
type Condition struct {
	ResourceType       string              `json:"resourceType"` // "Condition"
	ID                 string              `json:"id,omitempty"`
	Meta               *Meta               `json:"meta,omitempty"`
	Identifier         []Identifier        `json:"identifier,omitempty"`
	ClinicalStatus     *CodeableConcept    `json:"clinicalStatus,omitempty"`
	VerificationStatus *CodeableConcept    `json:"verificationStatus,omitempty"`
	Category           []CodeableConcept   `json:"category,omitempty"`
	Severity           *CodeableConcept    `json:"severity,omitempty"`
	Code               *CodeableConcept    `json:"code,omitempty"`
	BodySite           []CodeableConcept   `json:"bodySite,omitempty"`
	Subject            *Reference          `json:"subject"`
	Encounter          *Reference          `json:"encounter,omitempty"`
	OnsetDateTime      string              `json:"onsetDateTime,omitempty"`
	OnsetString        string              `json:"onsetString,omitempty"`
	AbatementDateTime  string              `json:"abatementDateTime,omitempty"`
	RecordedDate       string              `json:"recordedDate,omitempty"`
	Recorder           *Reference          `json:"recorder,omitempty"`
	Asserter           *Reference          `json:"asserter,omitempty"`
	Evidence           []ConditionEvidence `json:"evidence,omitempty"`
	Note               []Annotation        `json:"note,omitempty"`
}

// ConditionEvidence is Condition.evidence: what supports the condition
// (con-2: a code or a detail).
type ConditionEvidence struct {
	Code   []CodeableConcept `json:"code,omitempty"`
	Detail []Reference       `json:"detail,omitempty"`
}

// Medication is a FHIR R4 Medication: the product given or ordered.
type Medication struct {
	ResourceType string           `json:"resourceType"` // "Medication"
	ID           string           `json:"id,omitempty"`
	Meta         *Meta            `json:"meta,omitempty"`
	Identifier   []Identifier     `json:"identifier,omitempty"`
	Code         *CodeableConcept `json:"code,omitempty"`
	Manufacturer *Reference       `json:"manufacturer,omitempty"`
	Form         *CodeableConcept `json:"form,omitempty"`
	Batch        *MedicationBatch `json:"batch,omitempty"`
}

// MedicationBatch is Medication.batch.
type MedicationBatch struct {
	LotNumber      string `json:"lotNumber,omitempty"`
	ExpirationDate string `json:"expirationDate,omitempty"`
}

// Dosage is the FHIR Dosage datatype.
type Dosage struct {
	Sequence    int                 `json:"sequence,omitempty"`
	Text        string              `json:"text,omitempty"`
	Timing      *Timing             `json:"timing,omitempty"`
	AsNeeded    *bool               `json:"asNeededBoolean,omitempty"`
	AsNeededFor *CodeableConcept    `json:"asNeededCodeableConcept,omitempty"`
	Site        *CodeableConcept    `json:"site,omitempty"`
	Route       *CodeableConcept    `json:"route,omitempty"`
	DoseAndRate []DosageDoseAndRate `json:"doseAndRate,omitempty"`
	MaxPerPer   *Ratio              `json:"maxDosePerPeriod,omitempty"`
	Additional  []CodeableConcept   `json:"additionalInstruction,omitempty"`
	Method      *CodeableConcept    `json:"method,omitempty"`
}

// DosageDoseAndRate is Dosage.doseAndRate.
type DosageDoseAndRate struct {
	DoseQuantity *Quantity `json:"doseQuantity,omitempty"`
	DoseRange    *Range    `json:"doseRange,omitempty"`
	RateQuantity *Quantity `json:"rateQuantity,omitempty"`
}

// Timing is the FHIR Timing datatype.
type Timing struct {
	Event  []string         `json:"event,omitempty"`
	Repeat *TimingRepeat    `json:"repeat,omitempty"`
	Code   *CodeableConcept `json:"code,omitempty"`
}

// TimingRepeat is Timing.repeat. Period is a json.Number to keep the
// source's decimal exactly.
type TimingRepeat struct {
	BoundsDuration *Quantity   `json:"boundsDuration,omitempty"` // a Duration: UCUM time units
	BoundsPeriod   *Period     `json:"boundsPeriod,omitempty"`
	Count          int         `json:"count,omitempty"`
	Frequency      int         `json:"frequency,omitempty"`
	Period         json.Number `json:"period,omitempty"`
	PeriodMax      json.Number `json:"periodMax,omitempty"`
	PeriodUnit     string      `json:"periodUnit,omitempty"`
	When           []string    `json:"when,omitempty"`
	Offset         int         `json:"offset,omitempty"`
}

// MedicationRequest is a FHIR R4 MedicationRequest (an ordered or planned
// medication; C-CDA Medication Activity with moodCode INT).
type MedicationRequest struct {
	ResourceType              string                   `json:"resourceType"` // "MedicationRequest"
	ID                        string                   `json:"id,omitempty"`
	Meta                      *Meta                    `json:"meta,omitempty"`
	Identifier                []Identifier             `json:"identifier,omitempty"`
	Status                    string                   `json:"status"`
	Intent                    string                   `json:"intent"`
	Category                  []CodeableConcept        `json:"category,omitempty"`
	DoNotPerform              *bool                    `json:"doNotPerform,omitempty"`
	ReportedBoolean           *bool                    `json:"reportedBoolean,omitempty"` // reported, not ordered here (US Core medication list)
	MedicationCodeableConcept *CodeableConcept         `json:"medicationCodeableConcept,omitempty"`
	MedicationReference       *Reference               `json:"medicationReference,omitempty"`
	Subject                   *Reference               `json:"subject"`
	Encounter                 *Reference               `json:"encounter,omitempty"`
	SupportingInformation     []Reference              `json:"supportingInformation,omitempty"`
	AuthoredOn                string                   `json:"authoredOn,omitempty"`
	Requester                 *Reference               `json:"requester,omitempty"`
	ReasonCode                []CodeableConcept        `json:"reasonCode,omitempty"`
	Note                      []Annotation             `json:"note,omitempty"`
	DosageInstruction         []Dosage                 `json:"dosageInstruction,omitempty"`
	DispenseRequest           *MedicationRequestSupply `json:"dispenseRequest,omitempty"`
}

// MedicationRequestSupply is MedicationRequest.dispenseRequest.
type MedicationRequestSupply struct {
	ValidityPeriod         *Period   `json:"validityPeriod,omitempty"`
	NumberOfRepeatsAllowed *int      `json:"numberOfRepeatsAllowed,omitempty"`
	Quantity               *Quantity `json:"quantity,omitempty"`
}

// MedicationStatement is a FHIR R4 MedicationStatement (a medication the
// patient is or was taking; C-CDA Medication Activity with moodCode EVN).
type MedicationStatement struct {
	ResourceType              string            `json:"resourceType"` // "MedicationStatement"
	ID                        string            `json:"id,omitempty"`
	Meta                      *Meta             `json:"meta,omitempty"`
	Identifier                []Identifier      `json:"identifier,omitempty"`
	Status                    string            `json:"status"`
	Category                  *CodeableConcept  `json:"category,omitempty"`
	MedicationCodeableConcept *CodeableConcept  `json:"medicationCodeableConcept,omitempty"`
	MedicationReference       *Reference        `json:"medicationReference,omitempty"`
	Subject                   *Reference        `json:"subject"`
	Context                   *Reference        `json:"context,omitempty"`
	EffectiveDateTime         string            `json:"effectiveDateTime,omitempty"`
	EffectivePeriod           *Period           `json:"effectivePeriod,omitempty"`
	DateAsserted              string            `json:"dateAsserted,omitempty"`
	InformationSource         *Reference        `json:"informationSource,omitempty"`
	ReasonCode                []CodeableConcept `json:"reasonCode,omitempty"`
	Note                      []Annotation      `json:"note,omitempty"`
	Dosage                    []Dosage          `json:"dosage,omitempty"`
}

// Immunization is a FHIR R4 Immunization.
type Immunization struct {
	ResourceType       string           `json:"resourceType"` // "Immunization"
	ID                 string           `json:"id,omitempty"`
	Meta               *Meta            `json:"meta,omitempty"`
	Identifier         []Identifier     `json:"identifier,omitempty"`
	Status             string           `json:"status"`
	StatusReason       *CodeableConcept `json:"statusReason,omitempty"`
	VaccineCode        *CodeableConcept `json:"vaccineCode"`
	Patient            *Reference       `json:"patient"`
	Encounter          *Reference       `json:"encounter,omitempty"`
	OccurrenceDateTime string           `json:"occurrenceDateTime,omitempty"`
	OccurrenceString   string           `json:"occurrenceString,omitempty"`
	Recorded           string           `json:"recorded,omitempty"`
	PrimarySource      *bool            `json:"primarySource,omitempty"`
	// PrimarySourceElement carries a data-absent-reason when the source
	// does not say whether the record came from the one who gave the dose:
	// US Core makes primarySource 1..1.
	PrimarySourceElement *PrimitiveElement       `json:"_primarySource,omitempty"`
	ReportOrigin         *CodeableConcept        `json:"reportOrigin,omitempty"`
	Manufacturer         *Reference              `json:"manufacturer,omitempty"`
	LotNumber            string                  `json:"lotNumber,omitempty"`
	ExpirationDate       string                  `json:"expirationDate,omitempty"`
	Site                 *CodeableConcept        `json:"site,omitempty"`
	Route                *CodeableConcept        `json:"route,omitempty"`
	DoseQuantity         *Quantity               `json:"doseQuantity,omitempty"`
	Performer            []ImmunizationPerformer `json:"performer,omitempty"`
	Note                 []Annotation            `json:"note,omitempty"`
	ReasonCode           []CodeableConcept       `json:"reasonCode,omitempty"`
	IsSubpotent          *bool                   `json:"isSubpotent,omitempty"`
	SubpotentReason      []CodeableConcept       `json:"subpotentReason,omitempty"`
	Reaction             []ImmunizationReaction  `json:"reaction,omitempty"`
	ProtocolApplied      []ImmunizationProtocol  `json:"protocolApplied,omitempty"`
}

// ImmunizationReaction is Immunization.reaction: when a reaction began
// and the Observation of what it was.
type ImmunizationReaction struct {
	Date   string     `json:"date,omitempty"`
	Detail *Reference `json:"detail,omitempty"`
}

// ImmunizationProtocol is Immunization.protocolApplied: the dose's place
// in its series (doseNumber[x] is 1..1).
type ImmunizationProtocol struct {
	DoseNumberPositiveInt int `json:"doseNumberPositiveInt"`
}

// ImmunizationPerformer is Immunization.performer.
type ImmunizationPerformer struct {
	Function *CodeableConcept `json:"function,omitempty"`
	Actor    *Reference       `json:"actor"`
}

// Procedure is a FHIR R4 Procedure.
type Procedure struct {
	ResourceType      string           `json:"resourceType"` // "Procedure"
	ID                string           `json:"id,omitempty"`
	Meta              *Meta            `json:"meta,omitempty"`
	Identifier        []Identifier     `json:"identifier,omitempty"`
	Status            string           `json:"status"`
	StatusReason      *CodeableConcept `json:"statusReason,omitempty"`
	Category          *CodeableConcept `json:"category,omitempty"`
	Code              *CodeableConcept `json:"code,omitempty"`
	Subject           *Reference       `json:"subject"`
	Encounter         *Reference       `json:"encounter,omitempty"`
	PerformedDateTime string           `json:"performedDateTime,omitempty"`
	// PerformedDateTimeElement carries a data-absent-reason when a
	// completed or in-progress procedure's source gives no time (US
	// Core's us-core-7 wants performed[x] then).
	PerformedDateTimeElement *PrimitiveElement    `json:"_performedDateTime,omitempty"`
	PerformedPeriod          *Period              `json:"performedPeriod,omitempty"`
	Recorder                 *Reference           `json:"recorder,omitempty"`
	Performer                []ProcedurePerformer `json:"performer,omitempty"`
	Location                 *Reference           `json:"location,omitempty"`
	ReasonCode               []CodeableConcept    `json:"reasonCode,omitempty"`
	BodySite                 []CodeableConcept    `json:"bodySite,omitempty"`
	Note                     []Annotation         `json:"note,omitempty"`
}

// ProcedurePerformer is Procedure.performer.
type ProcedurePerformer struct {
	Function   *CodeableConcept `json:"function,omitempty"`
	Actor      *Reference       `json:"actor"`
	OnBehalfOf *Reference       `json:"onBehalfOf,omitempty"`
}
