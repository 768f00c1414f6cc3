package audit

import (
	"fmt"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// referenceFHIR is (*Event).FHIR as it was before it was written by hand
// (encoding/json's reflection, about 12 µs and 52 allocations an event, on
// the sender's one goroutine): the reflection encoding of the fhir* mirror
// of the AuditEvent. It is kept as the reference the encoder must match
// byte for byte (fhirenc_test.go), now with fhir.Marshal, which is
// encoding/json's escaping but for the control characters a FHIR string
// may not hold (written as spaces).
func referenceFHIR(e *Event) ([]byte, error) {
	when, err := e.recorded()
	if err != nil {
		return nil, err
	}
	ae := fhirAuditEvent{
		ResourceType: "AuditEvent",
		Type:         coding(e.ID),
		Action:       string(e.Action),
		Recorded:     when,
		Outcome:      fmt.Sprint(int(e.Outcome)),
		OutcomeDesc:  e.OutcomeDesc,
		Source: fhirSource{Site: e.AuditSite, Observer: fhirRef{Identifier: &fhirIdentifier{Value: e.AuditSourceID}, Display: e.AuditSourceID},
			Type: []fhirCoding{fhirSourceType}},
	}
	if ae.Action == "" {
		ae.Action = string(ActionExecute)
	}
	if e.Type.Code != "" {
		ae.Subtype = []fhirCoding{coding(e.Type)}
		for _, c := range e.Subtypes {
			ae.Subtype = append(ae.Subtype, coding(c))
		}
	}
	for _, p := range e.Participants {
		a := fhirAgent{Who: &fhirRef{Identifier: &fhirIdentifier{Value: p.UserID}}, AltID: p.AltUserID, Name: p.UserName, Requestor: p.Requestor}
		if p.UserID == e.AuditSourceID {
			a.Who.Display = p.UserID
		}
		if p.Role.Code != "" {
			a.Type = &fhirConcept{Coding: []fhirCoding{coding(p.Role)}}
		}
		if p.Media.Code != "" {
			c := coding(p.Media)
			a.Media = &c
		}
		if p.Address != "" {
			a.Network = &struct {
				Address string `json:"address"`
				Type    string `json:"type"`
			}{p.Address, napType(p.Address)}
		}
		ae.Agent = append(ae.Agent, a)
	}
	for _, o := range e.Objects {
		en := fhirEntity{What: &fhirRef{Identifier: &fhirIdentifier{Value: o.ID}}}
		if o.Value != "" {
			// A patient named by its identifier: BALP's Patient entity
			// carries it as an Identifier, not in HL7 v2 CX form.
			en.What.Identifier.System, en.What.Identifier.Value = o.System, o.Value
		}
		balp := o.IDType.System == IDXRequestID.System
		if o.IDType.Code != "" && !balp {
			en.What.Identifier.Type = &fhirConcept{Coding: []fhirCoding{coding(o.IDType)}}
		}
		if balp {
			c := coding(o.IDType)
			en.Type = &c
		} else if o.TypeCode != 0 {
			en.Type = &fhirCoding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: fmt.Sprint(o.TypeCode)}
		}
		if o.Role != 0 {
			en.Role = &fhirCoding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: fmt.Sprint(o.Role)}
		}
		for _, d := range o.Details {
			en.Detail = append(en.Detail, fhirDetail{Type: d.Type, ValueString: d.Value})
		}
		ae.Entity = append(ae.Entity, en)
	}
	b, err := fhir.Marshal(ae)
	if err != nil {
		return nil, fmt.Errorf("encode audit event: %w", err)
	}
	return b, nil
}

func coding(c Code) fhirCoding {
	d := c.Text
	if d == "" {
		d = c.DisplayName
	}
	return fhirCoding{System: fhirSystem(c.System), Code: c.Code, Display: d}
}

// Audit source type 4, "Application Server", as FHIR R4 codes it.
var fhirSourceType = fhirCoding{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}
