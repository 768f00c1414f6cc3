package audit

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
)

// referenceXML is (*Event).XML as it was before it was written by hand
// (encoding/xml's reflection was a tenth of the gateway's CPU with the
// audit trail on): encoding/xml.Marshal of the schema's mirror. It is
// kept, unchanged, as the reference the encoder must match byte for byte
// (xmlenc_test.go).
func referenceXML(e *Event) ([]byte, error) {
	when, err := e.recorded()
	if err != nil {
		return nil, err
	}
	m := xmlMessage{
		Event: xmlEvent{
			Action:      string(e.Action),
			DateTime:    when,
			Outcome:     int(e.Outcome),
			ID:          e.ID,
			OutcomeDesc: e.OutcomeDesc,
		},
		Source: xmlAuditSource{Site: e.AuditSite, ID: e.AuditSourceID, Type: sourceType},
	}
	if m.Event.Action == "" {
		m.Event.Action = string(ActionExecute)
	}
	if e.Type.Code != "" {
		m.Event.Type = []Code{e.Type}
	}
	m.Event.Type = append(m.Event.Type, e.Subtypes...)
	for _, p := range e.Participants {
		xp := xmlParticipant{UserID: p.UserID, AltUserID: p.AltUserID, UserName: p.UserName, Requestor: p.Requestor, Role: p.Role}
		if p.Address != "" {
			xp.NAPID = p.Address
			xp.NAPTypeCode = napType(p.Address)
		}
		if p.Media.Code != "" {
			xp.Media = &struct {
				Type Code `xml:"MediaType"`
			}{p.Media}
		}
		m.Participants = append(m.Participants, xp)
	}
	for _, o := range e.Objects {
		xo := xmlObject{ID: o.ID, TypeCode: o.TypeCode, Role: o.Role, IDType: o.IDType}
		for _, d := range o.Details {
			xo.Details = append(xo.Details, xmlDetail{Type: d.Type, Value: base64.StdEncoding.EncodeToString([]byte(d.Value))})
		}
		m.Objects = append(m.Objects, xo)
	}
	b, err := xml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode audit event: %w", err)
	}
	return append([]byte(xml.Header[:len(xml.Header)-1]), b...), nil
}
