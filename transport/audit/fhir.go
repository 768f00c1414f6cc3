package audit

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/ferry-health/ferry/adapters/fhir"
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
//	                                         altId, name, requestor, media ← MediaType, network)
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
	Media     *fhirCoding  `json:"media,omitempty"`
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

// FHIR encodes the event as a FHIR R4 AuditEvent (JSON), the form the
// FHIR Feed option of ITI-20 POSTs.
//
// The resource is fixed, so it is written by hand rather than by
// encoding/json, whose reflection cost about 12 µs and 52 allocations an
// event on the sender's one goroutine (every MLLP message records one).
// The bytes are those encoding/json.Marshal writes of the fhir* mirror
// above (the tests' reference, referenceFHIR in fhirref_test.go): fields
// in the mirror's order, omitempty fields left out when empty, and
// strings escaped as encoding/json escapes them (fhir.AppendJSONString).
func (e *Event) FHIR() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, e.fhirSize())
	b = append(b, `{"resourceType":"AuditEvent","type":`...)
	b = appendCoding(b, e.ID)
	if e.Type.Code != "" {
		b = append(b, `,"subtype":[`...)
		b = appendCoding(b, e.Type)
		for _, c := range e.Subtypes {
			b = append(b, ',')
			b = appendCoding(b, c)
		}
		b = append(b, ']')
	}
	b = append(b, `,"action":`...)
	if e.Action == "" {
		b = fhir.AppendJSONString(b, string(ActionExecute))
	} else {
		b = fhir.AppendJSONString(b, string(e.Action))
	}
	// The time and the outcome are digits and ASCII punctuation: nothing
	// to escape.
	b = append(b, `,"recorded":"`...)
	b = e.appendTime(b)
	b = append(b, `","outcome":"`...)
	b = strconv.AppendInt(b, int64(e.Outcome), 10)
	b = append(b, '"')
	if e.OutcomeDesc != "" {
		b = append(b, `,"outcomeDesc":`...)
		b = fhir.AppendJSONString(b, e.OutcomeDesc)
	}
	b = append(b, `,"agent":[`...)
	for i, p := range e.Participants {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if p.Role.Code != "" {
			b = append(b, `"type":{"coding":[`...)
			b = appendCoding(b, p.Role)
			b = append(b, `]},`...)
		}
		b = append(b, `"who":{"identifier":{"value":`...)
		b = fhir.AppendJSONString(b, p.UserID)
		b = append(b, '}')
		if p.UserID == e.AuditSourceID {
			// The gateway itself: its who is source.observer, display
			// and all (MHD's and BALP's val-audit-source, "$this.who =
			// %resource.source.observer", compares every child).
			b = append(b, `,"display":`...)
			b = fhir.AppendJSONString(b, p.UserID)
		}
		b = append(b, '}')
		if p.AltUserID != "" {
			b = append(b, `,"altId":`...)
			b = fhir.AppendJSONString(b, p.AltUserID)
		}
		if p.UserName != "" {
			b = append(b, `,"name":`...)
			b = fhir.AppendJSONString(b, p.UserName)
		}
		b = append(b, `,"requestor":`...)
		b = strconv.AppendBool(b, p.Requestor)
		if p.Media.Code != "" {
			b = append(b, `,"media":`...)
			b = appendCoding(b, p.Media)
		}
		if p.Address != "" {
			b = append(b, `,"network":{"address":`...)
			b = fhir.AppendJSONString(b, p.Address)
			b = append(b, `,"type":"`...)
			b = append(b, napType(p.Address)...)
			b = append(b, `"}`...)
		}
		b = append(b, '}')
	}
	b = append(b, `],"source":{`...)
	if e.AuditSite != "" {
		b = append(b, `"site":`...)
		b = fhir.AppendJSONString(b, e.AuditSite)
		b = append(b, ',')
	}
	b = append(b, `"observer":{"identifier":{"value":`...)
	b = fhir.AppendJSONString(b, e.AuditSourceID)
	b = append(b, `},"display":`...)
	b = fhir.AppendJSONString(b, e.AuditSourceID) // not empty: check
	b = append(b, `},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]}`...)
	for i, o := range e.Objects {
		if i == 0 {
			b = append(b, `,"entity":[`...)
		} else {
			b = append(b, ',')
		}
		balp := o.IDType.System == IDXRequestID.System
		b = append(b, `{"what":{"identifier":{`...)
		if o.IDType.Code != "" && !balp {
			b = append(b, `"type":{"coding":[`...)
			b = appendCoding(b, o.IDType)
			b = append(b, `]},`...)
		}
		id := o.ID
		if o.Value != "" {
			// A patient named by its identifier: BALP's Patient entity
			// carries it as an Identifier, not in HL7 v2 CX form.
			id = o.Value
			if o.System != "" {
				b = append(b, `"system":`...)
				b = fhir.AppendJSONString(b, o.System)
				b = append(b, ',')
			}
		}
		b = append(b, `"value":`...)
		b = fhir.AppendJSONString(b, id)
		b = append(b, `}}`...)
		if balp {
			b = append(b, `,"type":`...)
			b = appendCoding(b, o.IDType)
		} else if o.TypeCode != 0 {
			b = append(b, `,"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"`...)
			b = strconv.AppendInt(b, int64(o.TypeCode), 10)
			b = append(b, `"}`...)
		}
		if o.Role != 0 {
			b = append(b, `,"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"`...)
			b = strconv.AppendInt(b, int64(o.Role), 10)
			b = append(b, `"}`...)
		}
		for j, d := range o.Details {
			if j == 0 {
				b = append(b, `,"detail":[`...)
			} else {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = fhir.AppendJSONString(b, d.Type)
			b = append(b, `,"valueString":`...)
			b = fhir.AppendJSONString(b, d.Value)
			b = append(b, '}')
		}
		if len(o.Details) > 0 {
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	if len(e.Objects) > 0 {
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// fhirSize is the length of the event's JSON before escaping (escaping
// only lengthens it), so that FHIR allocates its buffer once for most
// events.
func (e *Event) fhirSize() int {
	n := 360 + len(e.Action) + len(e.OutcomeDesc) + codingSize(e.ID) + codingSize(e.Type) + len(e.AuditSite) + 2*len(e.AuditSourceID)
	for _, c := range e.Subtypes {
		n += codingSize(c)
	}
	for _, p := range e.Participants {
		n += 140 + 2*len(p.UserID) + len(p.AltUserID) + len(p.UserName) + len(p.Address) + codingSize(p.Role)
		if p.Media.Code != "" {
			n += 10 + codingSize(p.Media)
		}
	}
	for _, o := range e.Objects {
		n += 200 + len(o.ID) + len(o.System) + len(o.Value) + codingSize(o.IDType)
		for _, d := range o.Details {
			n += 30 + len(d.Type) + len(d.Value)
		}
	}
	return n
}

func codingSize(c Code) int {
	return 80 + len(c.Code) + len(c.System) + len(c.DisplayName) + len(c.Text)
}

// appendCoding appends c as a FHIR Coding: its system as fhirSystem maps
// it, and its originalText (else its displayName) as the display, left
// out when empty.
func appendCoding(b []byte, c Code) []byte {
	b = append(b, `{"system":`...) // never empty: fhirSystem("") is a URN
	b = appendFHIRSystem(b, c.System)
	b = append(b, `,"code":`...)
	b = fhir.AppendJSONString(b, c.Code)
	d := c.Text
	if d == "" {
		d = c.DisplayName
	}
	if d != "" {
		b = append(b, `,"display":`...)
		b = fhir.AppendJSONString(b, d)
	}
	return append(b, '}')
}

// appendFHIRSystem appends fhirSystem(name) as a JSON string without
// building it: the system names of ferry's own codes that are not URIs
// ("HL7 v2", "HL7 v2 message type (MSH-9)") take the urn:ferry: form on
// every import event.
func appendFHIRSystem(b []byte, name string) []byte {
	if s, ok := dicomSystems[name]; ok {
		return fhir.AppendJSONString(b, s)
	}
	if strings.Contains(name, ":") {
		return fhir.AppendJSONString(b, name)
	}
	b = append(b, `"urn:ferry:code-system:`...)
	// As fhirSystem: strings.ToLower is unicode.ToLower of each rune (an
	// invalid byte a rune of its own, U+FFFD), so a rune such as the
	// Kelvin sign lowers to an ASCII letter and is kept.
	for _, r := range name {
		switch r = unicode.ToLower(r); {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b = append(b, byte(r))
		default:
			b = append(b, '-')
		}
	}
	return append(b, '"')
}
