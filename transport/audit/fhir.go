package audit

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The FHIR Feed option of ITI-20: with audit.url https://<FHIR base>, each
// event is POSTed to [base]/AuditEvent as a FHIR R4 AuditEvent, mapped
// from the DICOM message field by field as the FHIR specification's
// AuditEvent mappings and IHE BALP lay it out:
//
//	EventIdentification EventID            → type (DCM)
//	EventTypeCode                          → subtype
//	EventActionCode, EventDateTime         → action, recorded
//	EventOutcomeIndicator, …Description    → outcome ("0", "4", "8", "12"), outcomeDesc
//	ActiveParticipant                      → agent (type ← RoleIDCode, who.identifier ← UserID,
//	                                         altId, name, requestor, network)
//	AuditSourceIdentification              → source (site, observer.identifier, type 4)
//	ParticipantObjectIdentification        → entity (what.identifier typed by IDTypeCode,
//	                                         type ← TypeCode, role ← TypeCodeRole, detail)

// dicomSystems maps the code system names of the DICOM message to the
// URIs FHIR codings carry.
var dicomSystems = map[string]string{
	"DCM":              "http://dicom.nema.org/resources/ontology/DCM",
	"IHE Transactions": "urn:ihe:event-type-code",
	"RFC-3881":         "urn:ietf:rfc:3881",
}

// fhirSystem is the coding system URI of a DICOM code system name; names
// that are already URIs pass through, others become urn:ferry:code-system:.
func fhirSystem(name string) string {
	if s, ok := dicomSystems[name]; ok {
		return s
	}
	if strings.Contains(name, ":") {
		return name
	}
	var b strings.Builder
	b.WriteString("urn:ferry:code-system:")
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

type fhirCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

func coding(c Code) fhirCoding {
	d := c.Text
	if d == "" {
		d = c.DisplayName
	}
	return fhirCoding{System: fhirSystem(c.System), Code: c.Code, Display: d}
}

type fhirConcept struct {
	Coding []fhirCoding `json:"coding"`
}

type fhirIdentifier struct {
	Type   *fhirConcept `json:"type,omitempty"`
	System string       `json:"system,omitempty"`
	Value  string       `json:"value"`
}

type fhirRef struct {
	Identifier *fhirIdentifier `json:"identifier,omitempty"`
	Display    string          `json:"display,omitempty"`
}

type fhirAgent struct {
	Type      *fhirConcept `json:"type,omitempty"`
	Who       *fhirRef     `json:"who,omitempty"`
	AltID     string       `json:"altId,omitempty"`
	Name      string       `json:"name,omitempty"`
	Requestor bool         `json:"requestor"`
	Network   *struct {
		Address string `json:"address"`
		Type    string `json:"type"`
	} `json:"network,omitempty"`
}

type fhirSource struct {
	Site     string       `json:"site,omitempty"`
	Observer fhirRef      `json:"observer"`
	Type     []fhirCoding `json:"type"`
}

type fhirDetail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

type fhirEntity struct {
	What   *fhirRef     `json:"what,omitempty"`
	Type   *fhirCoding  `json:"type,omitempty"`
	Role   *fhirCoding  `json:"role,omitempty"`
	Query  []byte       `json:"query,omitempty"`
	Detail []fhirDetail `json:"detail,omitempty"`
}

type fhirAuditEvent struct {
	ResourceType string       `json:"resourceType"`
	Type         fhirCoding   `json:"type"`
	Subtype      []fhirCoding `json:"subtype,omitempty"`
	Action       string       `json:"action"`
	Recorded     string       `json:"recorded"`
	Outcome      string       `json:"outcome"`
	OutcomeDesc  string       `json:"outcomeDesc,omitempty"`
	Agent        []fhirAgent  `json:"agent"`
	Source       fhirSource   `json:"source"`
	Entity       []fhirEntity `json:"entity,omitempty"`
}

// Audit source type 4, "Application Server", as FHIR R4 codes it.
var fhirSourceType = fhirCoding{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}

// FHIR encodes the event as a FHIR R4 AuditEvent (JSON), the form the
// FHIR Feed option of ITI-20 POSTs.
func (e *Event) FHIR() ([]byte, error) {
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
	}
	for _, p := range e.Participants {
		a := fhirAgent{Who: &fhirRef{Identifier: &fhirIdentifier{Value: p.UserID}}, AltID: p.AltUserID, Name: p.UserName, Requestor: p.Requestor}
		if p.Role.Code != "" {
			a.Type = &fhirConcept{Coding: []fhirCoding{coding(p.Role)}}
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
	b, err := json.Marshal(ae)
	if err != nil {
		return nil, fmt.Errorf("encode audit event: %w", err)
	}
	return b, nil
}
