package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ferry-health/ferry/queue/seal"
)

// The spool and the hand-off files keep events, not messages: a record is
//
//	ferry-audit-event/1\n{"procid":"1234","event":{…the Event as JSON…}}
//
// and the endpoint configured when the record is sent encodes it (DICOM
// XML in RFC 5424 syslog, or a FHIR AuditEvent). An operator may switch
// audit.url between a syslog repository and a FHIR base while events wait
// in the spool; had they been kept encoded, the new repository would
// refuse them, or take XML for a FHIR resource, and the trail would have a
// gap. Everything an encoding reads is in the record, so the bytes sent
// are those that encoding the event when it was recorded would have
// given: the event carries its time, source id and site, and the record
// the syslog PROCID of the process that recorded it (a gateway restarted
// since, or the gateway sending a hand-off file of `ferry held release`,
// would otherwise put its own). The HOSTNAME is the sender's.
//
// Earlier versions of ferry kept the encoded messages, and a spool or a
// hand-off directory may still hold some after an upgrade. A syslog
// message (it begins with '<') goes as it is to a syslog repository, and
// a FHIR AuditEvent (it begins with '{') to a FHIR base. One of the other
// kind is converted: both encodings are ferry's own field-by-field
// mappings of the same Event, so decodeXMLMessage and decodeFHIR undo them
// (see there for the little they cannot restore). A record that is none
// of these, or does not parse, is dropped, counted and logged.

// With a data-at-rest key (Options.Key) the spool keeps each record
// sealed (sealRecord): a seal blob, whose first byte (0xF5) no record or
// earlier message begins with. Records kept in clear before a key was
// configured are still read.

// recordAAD binds a sealed record to its use.
var recordAAD = []byte("ferry audit record")

// errRecordKey is openRecord's error for a sealed record without a key.
var errRecordKey = errors.New("the audit record is sealed, but no encryption key is configured (encryption.key_file)")

// sealRecord returns rec sealed with key; rec itself without a key, or
// when it is sealed already.
func sealRecord(key *seal.Key, rec []byte) []byte {
	if key == nil || seal.IsBlob(rec) {
		return rec
	}
	return key.Seal(nil, rec, recordAAD)
}

// openRecord returns the record a spool entry holds: rec itself when it is
// not sealed, else opened with key.
func openRecord(key *seal.Key, rec []byte) ([]byte, error) {
	if !seal.IsBlob(rec) {
		return rec, nil
	}
	if key == nil {
		return nil, errRecordKey
	}
	b, err := key.Open(nil, rec, recordAAD)
	if err != nil {
		return nil, fmt.Errorf("open sealed audit record: %w", err)
	}
	return b, nil
}

// recordMagic begins a record; the number is its version.
const recordMagic = "ferry-audit-event/1\n"

// recordPrefix is what every version of the record begins with, so that
// a record of a later version is told apart from a damaged one.
const recordPrefix = "ferry-audit-event/"

type record struct {
	// ProcID is the syslog PROCID of the process that recorded the event.
	ProcID string `json:"procid,omitempty"`
	Event  Event  `json:"event"`
}

// marshalRecord returns the record of ev, recorded by process procID.
func marshalRecord(procID string, ev *Event) ([]byte, error) {
	b, err := json.Marshal(record{ProcID: procID, Event: *ev})
	if err != nil {
		return nil, fmt.Errorf("store audit event: %w", err)
	}
	return append([]byte(recordMagic), b...), nil
}

// Errors of send, named for the log: they say why a record is dropped and
// quote nothing of it.
var (
	errRecordVersion = errors.New("the audit record was written by a later version of ferry")
	errRecordDamaged = errors.New("the audit record does not parse")
	errRecordUnknown = errors.New("the audit record is neither an event nor a message of an earlier ferry")
	errLegacySyslog  = errors.New("a syslog message kept by an earlier ferry could not be converted to a FHIR AuditEvent")
	errLegacyFHIR    = errors.New("a FHIR AuditEvent kept by an earlier ferry could not be converted to a syslog message")
)

// sendAll is send, as several messages where the record's event does not
// fit one (encodeAll).
func (ep endpoint) sendAll(h Header, rec []byte) ([][]byte, error) {
	if bytes.HasPrefix(rec, []byte(recordMagic)) {
		var r record
		if err := json.Unmarshal(rec[len(recordMagic):], &r); err != nil {
			return nil, errRecordDamaged
		}
		if r.ProcID != "" {
			h.ProcID = r.ProcID
		}
		return ep.encodeAll(h, &r.Event)
	}
	m, err := ep.send(h, rec)
	if err != nil {
		return nil, err
	}
	return [][]byte{m}, nil
}

// send returns the message for the repository at ep of a spool or hand-off
// record: a record encoded now, with the header h (its PROCID replaced by
// the record's), or a message kept by an earlier ferry, as it is or
// converted. An error means the record can never be sent to this
// repository.
func (ep endpoint) send(h Header, rec []byte) ([]byte, error) {
	fhir := ep.scheme == "https"
	switch {
	case bytes.HasPrefix(rec, []byte(recordMagic)):
		var r record
		if err := json.Unmarshal(rec[len(recordMagic):], &r); err != nil {
			return nil, errRecordDamaged
		}
		if r.ProcID != "" {
			h.ProcID = r.ProcID
		}
		return ep.encode(h, &r.Event)
	case bytes.HasPrefix(rec, []byte(recordPrefix)):
		return nil, errRecordVersion
	case len(rec) > 0 && rec[0] == '<':
		if !fhir {
			return rec, nil
		}
		ev, err := decodeSyslog(rec)
		if err != nil {
			return nil, errLegacySyslog
		}
		return ev.FHIR()
	case len(rec) > 0 && rec[0] == '{':
		if fhir {
			return rec, nil
		}
		ev, err := decodeFHIR(rec)
		if err != nil {
			return nil, errLegacyFHIR
		}
		return ep.encode(h, &ev)
	}
	return nil, errRecordUnknown
}

// detailJSON is Detail's JSON form. A value that is not valid UTF-8 (a
// control id from an HL7 v2 message in Latin-1, say) goes in raw, base64
// encoded by encoding/json, because the DICOM message sends a detail's
// bytes as they are, and a JSON string would replace them with U+FFFD.
type detailJSON struct {
	Type  string  `json:"type"`
	Value *string `json:"value,omitempty"`
	Raw   []byte  `json:"raw,omitempty"`
}

// MarshalJSON writes the detail as {"type":…,"value":…}, or with "raw"
// (base64) for a value that is not valid UTF-8.
func (d Detail) MarshalJSON() ([]byte, error) {
	j := detailJSON{Type: d.Type}
	if utf8.ValidString(d.Value) {
		j.Value = &d.Value
	} else {
		j.Raw = []byte(d.Value)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Detail) UnmarshalJSON(b []byte) error {
	var j detailJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d.Type, d.Value = j.Type, string(j.Raw)
	if j.Value != nil {
		d.Value = *j.Value
	}
	return nil
}

// decodeSyslog reads back an Event from an RFC 5424 message holding the
// DICOM XML that Event.XML writes. It restores everything FHIR encodes,
// except the event time below the millisecond (the XML has no more; the
// AuditEvent's recorded has no more either) and characters XML cannot
// carry, which the message already held as U+FFFD.
func decodeSyslog(msg []byte) (Event, error) {
	m, err := Parse(msg)
	if err != nil {
		return Event{}, err
	}
	var x xmlMessage
	if err := xml.Unmarshal(m.Msg, &x); err != nil {
		return Event{}, err
	}
	t, err := time.Parse(time.RFC3339, x.Event.DateTime)
	if err != nil {
		return Event{}, err
	}
	ev := Event{
		ID: x.Event.ID, Action: Action(x.Event.Action), Outcome: Outcome(x.Event.Outcome),
		OutcomeDesc: x.Event.OutcomeDesc, Time: t, AuditSourceID: x.Source.ID, AuditSite: x.Source.Site,
	}
	if len(x.Event.Type) > 0 {
		ev.Type = x.Event.Type[0]
		ev.Subtypes = x.Event.Type[1:]
	}
	for _, p := range x.Participants {
		q := Participant{UserID: p.UserID, AltUserID: p.AltUserID, UserName: p.UserName,
			Requestor: p.Requestor, Address: p.NAPID, Role: p.Role}
		if p.Media != nil {
			q.Media = p.Media.Type
		}
		ev.Participants = append(ev.Participants, q)
	}
	for _, o := range x.Objects {
		obj := Object{ID: o.ID, IDType: o.IDType, TypeCode: o.TypeCode, Role: o.Role}
		for _, d := range o.Details {
			v, err := base64.StdEncoding.DecodeString(d.Value)
			if err != nil {
				return Event{}, err
			}
			obj.Details = append(obj.Details, Detail{Type: d.Type, Value: string(v)})
		}
		ev.Objects = append(ev.Objects, obj)
	}
	return ev, nil
}

// ferrySystems are the code system names of ferry's audit codes (event.go)
// that fhirSystem does not pass through unchanged; decodeFHIR maps their
// URIs back. A new code with such a name belongs here too.
var ferrySystems = []string{"DCM", "IHE Transactions", "IHE XDS Metadata", "RFC-3881", "HL7 v2 message type (MSH-9)", "HL7 v2"}

// codeOf undoes appendCoding. A system URI that fhirSystem made of a name it
// does not know (urn:ferry:code-system:…) stays a URI: the name is lost,
// the code and what it means are not. The display becomes the original
// text, which is what all of ferry's codes carry.
func codeOf(c fhirCoding) Code {
	sys := c.System
	for _, name := range ferrySystems {
		if fhirSystem(name) == sys {
			sys = name
			break
		}
	}
	return Code{Code: c.Code, System: sys, Text: c.Display}
}

// decodeFHIR reads back an Event from the AuditEvent that Event.FHIR
// writes. It restores everything XML encodes, except the event time below
// the millisecond (so a syslog header made of it says .123000 where the
// original said .123456) and a code's displayName: a FHIR coding has one
// display, which comes back as the originalText (ferry's codes carry only
// that).
func decodeFHIR(msg []byte) (Event, error) {
	var ae fhirAuditEvent
	if err := json.Unmarshal(msg, &ae); err != nil {
		return Event{}, err
	}
	if ae.ResourceType != "AuditEvent" {
		return Event{}, fmt.Errorf("resource type %q is not AuditEvent", ae.ResourceType)
	}
	t, err := time.Parse(time.RFC3339, ae.Recorded)
	if err != nil {
		return Event{}, err
	}
	outcome, err := strconv.Atoi(ae.Outcome)
	if err != nil {
		return Event{}, err
	}
	ev := Event{
		ID: codeOf(ae.Type), Action: Action(ae.Action), Outcome: Outcome(outcome), OutcomeDesc: ae.OutcomeDesc,
		Time: t, AuditSite: ae.Source.Site,
	}
	if id := ae.Source.Observer.Identifier; id != nil {
		ev.AuditSourceID = id.Value
	}
	if len(ae.Subtype) > 0 {
		ev.Type = codeOf(ae.Subtype[0])
		for _, c := range ae.Subtype[1:] {
			ev.Subtypes = append(ev.Subtypes, codeOf(c))
		}
	}
	for _, a := range ae.Agent {
		p := Participant{AltUserID: a.AltID, UserName: a.Name, Requestor: a.Requestor}
		if a.Who != nil && a.Who.Identifier != nil {
			p.UserID = a.Who.Identifier.Value
		}
		if a.Type != nil && len(a.Type.Coding) > 0 {
			p.Role = codeOf(a.Type.Coding[0])
		}
		if a.Network != nil {
			p.Address = a.Network.Address
		}
		ev.Participants = append(ev.Participants, p)
	}
	for _, en := range ae.Entity {
		var o Object
		if en.What != nil && en.What.Identifier != nil {
			o.ID = en.What.Identifier.Value
			if ty := en.What.Identifier.Type; ty != nil && len(ty.Coding) > 0 {
				o.IDType = codeOf(ty.Coding[0])
			}
		}
		switch {
		case en.Type != nil && en.Type.System == IDXRequestID.System:
			// BALP's entity types stand for the id type (see IDXRequestID).
			o.IDType, o.TypeCode = codeOf(*en.Type), 4
		case en.Type != nil:
			if o.TypeCode, err = strconv.Atoi(en.Type.Code); err != nil {
				return Event{}, err
			}
		}
		if en.Role != nil {
			if o.Role, err = strconv.Atoi(en.Role.Code); err != nil {
				return Event{}, err
			}
		}
		for _, d := range en.Detail {
			o.Details = append(o.Details, Detail{Type: d.Type, Value: d.ValueString})
		}
		ev.Objects = append(ev.Objects, o)
	}
	return ev, nil
}
