// Package fhir holds the FHIR R4 structures ferry writes. Only what the
// converters emit is modelled; every field is omitempty so the JSON stays
// minimal and valid. Resources are plain structs marshalled with
// encoding/json; each carries ResourceType first so readers can dispatch.
package fhir

import "encoding/json"

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system,omitempty"`
	Version string `json:"version,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a FHIR CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a FHIR Identifier.
type Identifier struct {
	Use      string           `json:"use,omitempty"`
	Type     *CodeableConcept `json:"type,omitempty"`
	System   string           `json:"system,omitempty"`
	Value    string           `json:"value,omitempty"`
	Period   *Period          `json:"period,omitempty"`
	Assigner *Reference       `json:"assigner,omitempty"`
}

// Reference is a FHIR Reference.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Period is a FHIR Period.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// HumanName is a FHIR HumanName.
type HumanName struct {
	// Extension carries a data-absent-reason where a name is required
	// but not known (US Core us-core-6).
	Extension []Extension `json:"extension,omitempty"`
	Use       string      `json:"use,omitempty"`
	Text      string      `json:"text,omitempty"`
	Family    string      `json:"family,omitempty"`
	Given     []string    `json:"given,omitempty"`
	Prefix    []string    `json:"prefix,omitempty"`
	Suffix    []string    `json:"suffix,omitempty"`
	Period    *Period     `json:"period,omitempty"`
}

// Address is a FHIR Address.
type Address struct {
	Use        string   `json:"use,omitempty"`
	Type       string   `json:"type,omitempty"`
	Text       string   `json:"text,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	District   string   `json:"district,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
	Period     *Period  `json:"period,omitempty"`
}

// ContactPoint is a FHIR ContactPoint.
type ContactPoint struct {
	System string  `json:"system,omitempty"`
	Value  string  `json:"value,omitempty"`
	Use    string  `json:"use,omitempty"`
	Rank   int     `json:"rank,omitempty"`
	Period *Period `json:"period,omitempty"`
}

// Quantity is a FHIR Quantity. Value is a json.Number so the decimal's
// precision from the source is kept exactly.
type Quantity struct {
	Value      json.Number `json:"value,omitempty"`
	Comparator string      `json:"comparator,omitempty"`
	Unit       string      `json:"unit,omitempty"`
	System     string      `json:"system,omitempty"`
	Code       string      `json:"code,omitempty"`
}

// Range is a FHIR Range.
type Range struct {
	Low  *Quantity `json:"low,omitempty"`
	High *Quantity `json:"high,omitempty"`
}

// Ratio is a FHIR Ratio.
type Ratio struct {
	Numerator   *Quantity `json:"numerator,omitempty"`
	Denominator *Quantity `json:"denominator,omitempty"`
}

// Attachment is a FHIR Attachment. Data is base64 in JSON ([]byte does that).
type Attachment struct {
	ContentType string `json:"contentType,omitempty"`
	Language    string `json:"language,omitempty"`
	Data        []byte `json:"data,omitempty"`
	URL         string `json:"url,omitempty"`
	Size        int64  `json:"size,omitempty"`
	Hash        []byte `json:"hash,omitempty"`
	Title       string `json:"title,omitempty"`
	Creation    string `json:"creation,omitempty"`
}

// Annotation is a FHIR Annotation.
type Annotation struct {
	AuthorString string `json:"authorString,omitempty"`
	Time         string `json:"time,omitempty"`
	Text         string `json:"text"`
}

// Extension is a FHIR Extension with the value[x] types ferry uses.
type Extension struct {
	URL                  string           `json:"url"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueCode            string           `json:"valueCode,omitempty"`
	ValueCoding          *Coding          `json:"valueCoding,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier,omitempty"`
	ValueOid             string           `json:"valueOid,omitempty"`
	ValueURI             string           `json:"valueUri,omitempty"`
	Extension            []Extension      `json:"extension,omitempty"`
}

// Meta is a FHIR Meta.
type Meta struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"`
	Source      string   `json:"source,omitempty"`
	Profile     []string `json:"profile,omitempty"`
	Security    []Coding `json:"security,omitempty"`
	Tag         []Coding `json:"tag,omitempty"`
}

// Narrative is a FHIR Narrative.
type Narrative struct {
	Status string `json:"status"`
	Div    string `json:"div"`
}
