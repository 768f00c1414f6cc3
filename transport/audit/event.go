// Package audit records ferry's audit trail as IHE ATNA "Record Audit
// Event" (ITI-20) messages: DICOM PS3.15 A.5 audit message XML wrapped in
// RFC 5424 syslog, sent to an audit repository over TLS (RFC 5425), DTLS
// (RFC 6012) or UDP (RFC 5426), or, with an https:// FHIR base, as FHIR R4
// AuditEvent resources POSTed to it (ITI-20's FHIR Feed option; fhir.go).
// It is ferry's answer to HIPAA
// §164.312(b) audit controls: every input received and every bundle
// delivered leaves a record at a repository the clinic does not control.
//
// The messages name the patient (ATNA requires it, and audit repositories
// are PHI-protected), so event contents never go to ferry's own logs.
//
// A Sink never blocks the data path: Record hands the event to a bounded
// channel. While the repository is unreachable, events are appended to a
// durable spool (<data_dir>/audit/spool) and sent in order once it is
// back; the spool keeps the events themselves and they are encoded when
// sent, so that switching audit.url between syslog and FHIR loses none
// (record.go). The repository is redialled at most every 10 s, and an
// unreachable repository never blocks start-up (Caddy's NetWriter with
// SoftStart, caddyserver/caddy#5520).
package audit

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Code is a DICOM coded value (csd-code, codeSystemName, originalText).
type Code struct {
	Code        string `xml:"csd-code,attr" json:"code"`
	System      string `xml:"codeSystemName,attr" json:"system"`
	DisplayName string `xml:"displayName,attr,omitempty" json:"display_name,omitempty"`
	Text        string `xml:"originalText,attr,omitempty" json:"text,omitempty"`
}

// Event IDs (DICOM PS3.16 CID 400, "DCM" code system).
var (
	// EventExport is a delivery to the exchange (DCM 110106 "Export").
	EventExport = Code{Code: "110106", System: "DCM", Text: "Export"}
	// EventImport is an input received over MLLP or from a folder
	// (DCM 110107 "Import").
	EventImport = Code{Code: "110107", System: "DCM", Text: "Import"}
	// EventPatientRecord is DCM 110110 "Patient Record": a record about a
	// patient was created, read, updated or deleted (the action code says
	// which). ferry uses it for people reading, re-queueing or deleting
	// bundles it keeps (dead letters, held bundles).
	EventPatientRecord = Code{Code: "110110", System: "DCM", Text: "Patient Record"}
	// EventUserAuthentication (DICOM PS3.16 CID 400) with TypeLogin
	// records an attempt to authenticate; ferry records the failed ones
	// (a wrong ops API token), which HIPAA asks to monitor (log-in
	// monitoring, 45 CFR 164.308(a)(5)(ii)(C)).
	EventUserAuthentication = Code{Code: "110114", System: "DCM", Text: "User Authentication"}
	// TypeLogin is the event type of a log-in attempt (CID 401).
	TypeLogin = Code{Code: "110122", System: "DCM", Text: "Login"}
	// EventApplicationActivity with TypeApplicationStart or
	// TypeApplicationStop records the gateway starting or stopping (DICOM
	// PS3.15 A.5.3.1; ITI-20's actor-start-stop trigger), so that the
	// repository can tell a gap in the trail (ferry not running) from a
	// quiet clinic.
	EventApplicationActivity = Code{Code: "110100", System: "DCM", Text: "Application Activity"}
	TypeApplicationStart     = Code{Code: "110120", System: "DCM", Text: "Application Start"}
	TypeApplicationStop      = Code{Code: "110121", System: "DCM", Text: "Application Stop"}
	// EventSecurityAlert with TypeNodeAuthentication records a peer that
	// failed to authenticate as a node (DICOM PS3.15 A.5.3.11; ITI-19's
	// and ITI-20's node-authentication-failure trigger): a sender refused
	// by the TLS handshake (no or an untrusted client certificate) or by
	// a listener's allow list (NodeAuthFailure), or a server ferry
	// connected to whose certificate did not verify or that refused
	// ferry's (RemoteAuthFailure).
	EventSecurityAlert     = Code{Code: "110113", System: "DCM", Text: "Security Alert"}
	TypeNodeAuthentication = Code{Code: "110126", System: "DCM", Text: "Node Authentication"}
	// TypeAuditRecordingStopped is the Security Alert type with which
	// the Sink reports audit events it lost (DCM 110133).
	TypeAuditRecordingStopped = Code{Code: "110133", System: "DCM", Text: "Audit Recording Stopped"}
)

// Event type codes.
var (
	// TypeITI65 marks an IHE MHD Provide Document Bundle (ITI-65).
	TypeITI65 = Code{Code: "ITI-65", System: "IHE Transactions", Text: "Provide Document Bundle"}
	// TypeITI105 marks an IHE MHD Simplified Publish (ITI-105): one
	// DocumentReference carrying its document, created on its own.
	TypeITI105 = Code{Code: "ITI-105", System: "IHE Transactions", Text: "Simplified Publish"}
	// EventREST and TypeRESTCreate are BALP's event type and subtype of a
	// RESTful create (IHE.BasicAudit.Create: type audit-event-type#rest,
	// subtype restful-interaction#create), which MHD's ITI-105 audit
	// (IHE.MHD.SimplifiedPublish.Audit.Source) derives from, TypeITI105 a
	// second subtype.
	EventREST      = Code{Code: "rest", System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Text: "Restful Operation"}
	TypeRESTCreate = Code{Code: "create", System: "http://hl7.org/fhir/restful-interaction", Text: "create"}
	// TypeFHIRTransaction marks any other FHIR transaction bundle (the BALP
	// restful-interaction subtype).
	TypeFHIRTransaction = Code{Code: "transaction", System: "http://hl7.org/fhir/restful-interaction", Text: "transaction"}
)

// TypeInput returns the event type code of an input in format ("hl7v2",
// "ccda", "fhir", "fax"); for HL7 v2 the message type ("ADT^A01"), when
// known, is the code.
func TypeInput(format, messageType string) Code {
	if format == "hl7v2" && messageType != "" {
		return Code{Code: messageType, System: "HL7 v2 message type (MSH-9)", Text: "HL7 v2 " + messageType}
	}
	return Code{Code: format, System: "urn:ferry:input-format", Text: format + " input"}
}

// Roles of active participants (DICOM CID 402; the human user as BALP
// types it).
var (
	RoleSource      = Code{Code: "110153", System: "DCM", Text: "Source Role ID"}
	RoleDestination = Code{Code: "110152", System: "DCM", Text: "Destination Role ID"}
	// RoleApplication is the system that holds the record a person acted
	// on (DCM 110150 "Application").
	RoleApplication = Code{Code: "110150", System: "DCM", Text: "Application"}
	// RoleApplicationLauncher is the account that started an application
	// (DCM 110151 "Application Launcher"), in an Application Activity
	// event.
	RoleApplicationLauncher = Code{Code: "110151", System: "DCM", Text: "Application Launcher"}
	// RoleSourceMedia is the media an input was read from (DCM 110155
	// "Source Media"): DICOM PS3.15 A.5.3.5 has every Data Import name
	// one, with its MediaIdentifier and MediaType (Import.Media).
	RoleSourceMedia = Code{Code: "110155", System: "DCM", Text: "Source Media"}
	// RoleDestinationMedia is the media data was exported to (DCM 110154
	// "Destination Media"), which A.5.3.4 has every Data Export name: a
	// backup's archive.
	RoleDestinationMedia = Code{Code: "110154", System: "DCM", Text: "Destination Media"}
	// RoleHumanUser marks the person who asked for an operator action
	// (BALP's agent type, extra-security-role-type#humanuser).
	RoleHumanUser = Code{Code: "humanuser", System: "http://terminology.hl7.org/CodeSystem/extra-security-role-type", Text: "human user"}
)

// Media types of a Source Media participant (DICOM PS3.16 CID 405).
var (
	// MediaURI is media named by a URI (DCM 110037): a watched folder, a
	// backup archive.
	MediaURI = Code{Code: "110037", System: "DCM", Text: "URI"}
	// MediaEmail is e-mail (DCM 110031): a fax mailbox.
	MediaEmail = Code{Code: "110031", System: "DCM", Text: "Email"}
)

// Action is EventActionCode.
type Action string

// Event action codes.
const (
	ActionCreate  Action = "C"
	ActionRead    Action = "R"
	ActionUpdate  Action = "U"
	ActionDelete  Action = "D"
	ActionExecute Action = "E"
)

// Outcome is EventOutcomeIndicator.
type Outcome int

// Event outcome indicators.
const (
	OutcomeSuccess      Outcome = 0
	OutcomeMinorFailure Outcome = 4
	OutcomeSeriousFail  Outcome = 8
	OutcomeMajorFailure Outcome = 12
)

// Participant is one active participant (ActiveParticipant): a system,
// or for operator actions the person who asked for them.
type Participant struct {
	// UserID identifies the system (an application name, a source id or
	// the endpoint URL) or the person (the OS account).
	UserID string `json:"user_id"`
	// AltUserID is the process id or similar (optional).
	AltUserID string `json:"alt_user_id,omitempty"`
	// UserName is a human-meaningful name (optional), e.g. the account
	// that ran sudo.
	UserName string `json:"user_name,omitempty"`
	// Requestor is true for the side that started the transaction.
	Requestor bool `json:"requestor,omitempty"`
	// Address is a host name or IP address (NetworkAccessPointID).
	Address string `json:"address,omitempty"`
	Role    Code   `json:"role,omitzero"`
	// Media is the MediaType of a media participant (DICOM's
	// MediaIdentifier element), UserID then naming the media.
	Media Code `json:"media,omitzero"`
}

// Object kinds for ParticipantObjectIdentification.
var (
	// IDPatientNumber types a patient identifier (RFC 3881 code 2).
	IDPatientNumber = Code{Code: "2", System: "RFC-3881", Text: "Patient Number"}
	// IDPatientKey types ferry's patient key: a one-way hash of the
	// patient's business identifier, keyed with the gateway's encryption
	// key when data at rest is sealed (seal.Key.Pseudonym). The repository
	// can match it to other events of the same gateway; to a chart only
	// with ferry's help, or, when no encryption key is set, by hashing
	// candidate identifiers.
	IDPatientKey = Code{Code: "patient-key", System: "urn:ferry:id-type", Text: "ferry patient key (hash of the patient identifier)"}
	// IDSubmissionSet types an MHD submission set unique id.
	IDSubmissionSet = Code{Code: "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd", System: "IHE XDS Metadata", Text: "submission set classificationNode"}
	// IDDocumentEntry types an MHD document's unique id (the
	// DocumentReference's masterIdentifier): the XDS stable DocumentEntry
	// objectType, as IDSubmissionSet is the SubmissionSet's node.
	IDDocumentEntry = Code{Code: "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1", System: "IHE XDS Metadata", Text: "stable document entry objectType"}
	// IDBundle types a FHIR Bundle identifier (ferry's queue item id).
	IDBundle = Code{Code: "Bundle", System: "http://hl7.org/fhir/resource-types", Text: "Bundle"}
	// IDXRequestID types the X-Request-Id header value of the HTTP
	// request that carried the bundle: BALP's XrequestId entity type
	// (BasicAuditEntityType). The DICOM form names it as the object's id
	// type like any other; the FHIR form, as BALP has it, as entity.type
	// (in place of audit-entity-type 4), the identifier untyped.
	IDXRequestID = Code{Code: "XrequestId", System: "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType", Text: "transport specific unique identifier where http X-Request-Id is used"}
	// IDHeldBundle types the id of a bundle kept back by the hold policy
	// (an entry of <data_dir>/held, as `ferry held list` shows it).
	IDHeldBundle = Code{Code: "held-bundle", System: "urn:ferry:id-type", Text: "bundle held by the disclosure policy"}
	// IDQuarantined types the id of an input kept in the quarantine
	// because it could not be converted (an entry of <data_dir>/quarantine,
	// as `ferry quarantine list` shows it).
	IDQuarantined = Code{Code: "quarantined-input", System: "urn:ferry:id-type", Text: "input kept in the quarantine"}
	// IDMergeRegistry types ferry's registry of merged patients
	// (<data_dir>/merges.log, as `ferry merges list` shows it).
	IDMergeRegistry = Code{Code: "merge-registry", System: "urn:ferry:id-type", Text: "registry of merged patients"}
	// IDDataFolder types the gateway's data folder as a whole (its path),
	// what a backup copies.
	IDDataFolder = Code{Code: "data-folder", System: "urn:ferry:id-type", Text: "the gateway's data folder"}
	// IDInput types a received input named by its content: "sha256:"
	// and the hex SHA-256 of its bytes (the folder sources' dedup key).
	// Never a file name: fax and export file names often carry the
	// patient's name and chart number ("DOE_JANE_MRN777123.tif").
	IDInput = Code{Code: "input-sha256", System: "urn:ferry:id-type", Text: "received input (SHA-256 of its content)"}
	// IDURI types an object named by its URI (RFC-3881 code 12): the
	// server ferry connected to (https://host:port), the subject of an
	// outbound node authentication Security Alert (RemoteAuthFailure), or
	// ferry's listener a peer failed to authenticate at (mllps://host:port,
	// NodeAuthFailure).
	// DICOM PS3.15 A.5.3.11 has the value of a subject typed DCM 110182
	// "Node ID" be node_name@domain_name or an IP address, of one typed
	// URI "the URI of the file or other resource".
	IDURI = Code{Code: "12", System: "RFC-3881", Text: "URI"}
)

// Object is one ParticipantObjectIdentification.
type Object struct {
	ID     string `json:"id"`
	IDType Code   `json:"id_type,omitzero"`
	// TypeCode: 1 person, 2 system object. Role: 1 patient, 3 report,
	// 20 job (a submission set), 24 query.
	TypeCode int `json:"type_code,omitempty"`
	Role     int `json:"role,omitempty"`
	// System and Value, when Value is set, are the identifier ID is the
	// HL7 CX form of (PatientIdentifier): the FHIR form names them as
	// entity.what.identifier, as BALP's Patient entity has it.
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
	// Details become ParticipantObjectDetail elements (values are sent
	// base64 encoded, as the schema requires), e.g. "MSH-10" → control id.
	Details []Detail `json:"details,omitempty"`
}

// Detail is a ParticipantObjectDetail type/value pair. Its JSON form
// (MarshalJSON) keeps a value that is not valid UTF-8 byte for byte.
type Detail struct {
	Type  string
	Value string
}

// Event is one audit event. Build it with ExportEvent or ImportEvent, or
// fill it directly. AuditSourceID is set by the Sink when empty.
//
// The json tags fix the form in which the spool and the hand-off files
// keep an event (record.go); renaming a field must not change them.
type Event struct {
	ID   Code `json:"id"`
	Type Code `json:"type,omitzero"`
	// Subtypes are further event type codes, after Type (EventTypeCode
	// repeats; the FHIR form's subtype is Type and these).
	Subtypes    []Code    `json:"subtypes,omitempty"`
	Action      Action    `json:"action,omitempty"`
	Outcome     Outcome   `json:"outcome"`
	OutcomeDesc string    `json:"outcome_desc,omitempty"` // PHI-free
	Time        time.Time `json:"time"`
	// AuditSourceID and AuditSite identify this gateway
	// (AuditSourceIdentification); the Sink fills them from its options.
	AuditSourceID string        `json:"audit_source_id"`
	AuditSite     string        `json:"audit_site,omitempty"`
	Participants  []Participant `json:"participants"`
	Objects       []Object      `json:"objects,omitempty"`
}

// splitPatients returns ev as two events that each name half of its
// patients (objects of type 1, role 1), in their order, and all its other
// objects; ok is false when it names fewer than two.
func (e *Event) splitPatients() (a, b Event, ok bool) {
	var patients, others []Object
	for _, o := range e.Objects {
		if o.TypeCode == 1 && o.Role == 1 {
			patients = append(patients, o)
		} else {
			others = append(others, o)
		}
	}
	if len(patients) < 2 {
		return a, b, false
	}
	n := len(patients) / 2
	a, b = *e, *e
	a.Objects = append(append([]Object(nil), patients[:n]...), others...)
	b.Objects = append(append([]Object(nil), patients[n:]...), others...)
	return a, b, true
}

// PatientObject returns the patient participant object for id typed as
// idType (IDPatientNumber for a CX-formatted identifier, IDPatientKey for
// ferry's hash).
func PatientObject(id string, idType Code, controlID string) Object {
	o := Object{ID: id, IDType: idType, TypeCode: 1, Role: 1}
	if controlID != "" {
		o.Details = append(o.Details, Detail{Type: "MSH-10", Value: controlID})
	}
	return o
}

// PatientID is a patient's business identifier (a FHIR Identifier's
// system and value, e.g. the clinic's MRN under its assigning authority's
// OID). It is PHI: it goes to the audit repository, never to a log.
type PatientID struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value"`
}

// PatientIdentifier returns the participant object that names a patient by
// its identifier, as DICOM PS3.15 A.5 and the IHE transaction audit
// definitions ask (ParticipantObjectTypeCode 1 "Person", role 1
// "Patient", ParticipantObjectIDTypeCode RFC-3881 2 "Patient Number",
// ParticipantObjectID the identifier in HL7 CX form, see CX). The FHIR
// form carries the identifier's system and value as they are.
func PatientIdentifier(id PatientID, controlID string) Object {
	o := PatientObject(CX(id.System, id.Value), IDPatientNumber, controlID)
	o.System, o.Value = id.System, id.Value
	return o
}

// CX formats an identifier as an HL7 v2 CX with only the ID number (CX-1)
// and the assigning authority (CX-4) set, the form the IHE audit message
// definitions give ParticipantObjectID: "MRN^^^&2.16.840.1.113883.3.999.1&ISO"
// for a system "urn:oid:2.16.840.1.113883.3.999.1", "&<uri>&URI" for any
// other URI, the value alone when there is no system. Separators in the
// parts are escaped as HL7 v2 escapes them (\S\, \T\, \E\).
func CX(system, value string) string {
	v := cxEscape(value)
	switch {
	case system == "":
		return v
	case strings.HasPrefix(system, "urn:oid:"):
		return v + "^^^&" + cxEscape(strings.TrimPrefix(system, "urn:oid:")) + "&ISO"
	default:
		return v + "^^^&" + cxEscape(system) + "&URI"
	}
}

var cxEscaper = strings.NewReplacer(`\`, `\E\`, "^", `\S\`, "&", `\T\`, "|", `\F\`, "~", `\R\`)

func cxEscape(s string) string { return cxEscaper.Replace(s) }

// xml mirror of the DICOM PS3.15 A.5.1 schema, in its element order.
// decodeSyslog reads messages with it; XML writes the same bytes that
// encoding/xml.Marshal writes of it (the tests compare the two).
type xmlMessage struct {
	XMLName      xml.Name         `xml:"AuditMessage"`
	Event        xmlEvent         `xml:"EventIdentification"`
	Participants []xmlParticipant `xml:"ActiveParticipant"`
	Source       xmlAuditSource   `xml:"AuditSourceIdentification"`
	Objects      []xmlObject      `xml:"ParticipantObjectIdentification"`
}

type xmlEvent struct {
	Action      string `xml:"EventActionCode,attr"`
	DateTime    string `xml:"EventDateTime,attr"`
	Outcome     int    `xml:"EventOutcomeIndicator,attr"`
	ID          Code   `xml:"EventID"`
	Type        []Code `xml:"EventTypeCode"`
	OutcomeDesc string `xml:"EventOutcomeDescription,omitempty"`
}

type xmlParticipant struct {
	UserID      string `xml:"UserID,attr"`
	AltUserID   string `xml:"AlternativeUserID,attr,omitempty"`
	UserName    string `xml:"UserName,attr,omitempty"`
	Requestor   bool   `xml:"UserIsRequestor,attr"`
	NAPID       string `xml:"NetworkAccessPointID,attr,omitempty"`
	NAPTypeCode string `xml:"NetworkAccessPointTypeCode,attr,omitempty"`
	Role        Code   `xml:"RoleIDCode"`
	Media       *struct {
		Type Code `xml:"MediaType"`
	} `xml:"MediaIdentifier"`
}

type xmlAuditSource struct {
	Site string `xml:"AuditEnterpriseSiteID,attr,omitempty"`
	ID   string `xml:"AuditSourceID,attr"`
	Type Code   `xml:"AuditSourceTypeCode"`
}

type xmlObject struct {
	ID string `xml:"ParticipantObjectID,attr"`
	// Both optional, with enumerated values (1-4, 1-24) in the DICOM
	// schema: left out when unset, never "0".
	TypeCode int         `xml:"ParticipantObjectTypeCode,attr,omitempty"`
	Role     int         `xml:"ParticipantObjectTypeCodeRole,attr,omitempty"`
	IDType   Code        `xml:"ParticipantObjectIDTypeCode"`
	Details  []xmlDetail `xml:"ParticipantObjectDetail"`
}

type xmlDetail struct {
	Type  string `xml:"type,attr"`
	Value string `xml:"value,attr"`
}

// sourceType is DCM audit source type 4, "Application Server Process".
var sourceType = Code{Code: "4", System: "DCM", Text: "Application Server Process"}

// recorded checks what every encoding needs and returns the event's time
// (now when unset), formatted as both encodings write it.
func (e *Event) recorded() (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	return string(e.appendTime(nil)), nil
}

// check checks what every encoding needs.
func (e *Event) check() error {
	if e.AuditSourceID == "" {
		return fmt.Errorf("encode audit event: audit source id is empty")
	}
	if len(e.Participants) == 0 {
		return fmt.Errorf("encode audit event: no active participant")
	}
	return nil
}

// XML encodes the event as a DICOM PS3.15 A.5 AuditMessage.
//
// The schema is fixed, so the message is written by hand rather than by
// encoding/xml, whose reflection cost a tenth of the gateway's CPU with
// the audit trail on (every MLLP message records an event). The bytes are
// those encoding/xml.Marshal writes of the schema's mirror, xmlMessage
// (the tests' reference, referenceXML in xmlref_test.go): elements and
// attributes in the schema's order, optional attributes and
// EventOutcomeDescription left out when empty, every element closed with
// an end tag, and text escaped as encoding/xml escapes it (appendEscaped).
func (e *Event) XML() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, e.xmlSize())
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?><AuditMessage><EventIdentification EventActionCode="`...)
	if e.Action == "" {
		b = append(b, ActionExecute...)
	} else {
		b = appendEscaped(b, string(e.Action))
	}
	b = append(b, `" EventDateTime="`...)
	b = e.appendTime(b)
	b = append(b, `" EventOutcomeIndicator="`...)
	b = strconv.AppendInt(b, int64(e.Outcome), 10)
	b = append(b, `">`...)
	b = appendCode(b, "EventID", e.ID)
	if e.Type.Code != "" {
		b = appendCode(b, "EventTypeCode", e.Type)
	}
	for _, c := range e.Subtypes {
		b = appendCode(b, "EventTypeCode", c)
	}
	if e.OutcomeDesc != "" {
		b = append(b, `<EventOutcomeDescription>`...)
		b = appendEscaped(b, e.OutcomeDesc)
		b = append(b, `</EventOutcomeDescription>`...)
	}
	b = append(b, `</EventIdentification>`...)
	for _, p := range e.Participants {
		b = append(b, `<ActiveParticipant UserID="`...)
		b = appendEscaped(b, p.UserID)
		b = append(b, '"')
		b = appendAttr(b, "AlternativeUserID", p.AltUserID)
		b = appendAttr(b, "UserName", p.UserName)
		b = append(b, ` UserIsRequestor="`...)
		b = strconv.AppendBool(b, p.Requestor)
		b = append(b, '"')
		if p.Address != "" {
			b = appendAttr(b, "NetworkAccessPointID", p.Address)
			b = append(b, ` NetworkAccessPointTypeCode="`...)
			b = append(b, napType(p.Address)...)
			b = append(b, '"')
		}
		b = append(b, '>')
		b = appendCode(b, "RoleIDCode", p.Role)
		if p.Media.Code != "" {
			b = append(b, `<MediaIdentifier>`...)
			b = appendCode(b, "MediaType", p.Media)
			b = append(b, `</MediaIdentifier>`...)
		}
		b = append(b, `</ActiveParticipant>`...)
	}
	b = append(b, `<AuditSourceIdentification`...)
	b = appendAttr(b, "AuditEnterpriseSiteID", e.AuditSite)
	b = append(b, ` AuditSourceID="`...)
	b = appendEscaped(b, e.AuditSourceID)
	b = append(b, `">`...)
	b = appendCode(b, "AuditSourceTypeCode", sourceType)
	b = append(b, `</AuditSourceIdentification>`...)
	for _, o := range e.Objects {
		b = append(b, `<ParticipantObjectIdentification ParticipantObjectID="`...)
		b = appendEscaped(b, o.ID)
		b = append(b, '"')
		// Both optional, with enumerated values (1-4, 1-24) in the DICOM
		// schema: left out when unset, never "0".
		if o.TypeCode != 0 {
			b = append(b, ` ParticipantObjectTypeCode="`...)
			b = strconv.AppendInt(b, int64(o.TypeCode), 10)
			b = append(b, '"')
		}
		if o.Role != 0 {
			b = append(b, ` ParticipantObjectTypeCodeRole="`...)
			b = strconv.AppendInt(b, int64(o.Role), 10)
			b = append(b, '"')
		}
		b = append(b, '>')
		b = appendCode(b, "ParticipantObjectIDTypeCode", o.IDType)
		for _, d := range o.Details {
			b = append(b, `<ParticipantObjectDetail type="`...)
			b = appendEscaped(b, d.Type)
			// The schema types the value xs:base64Binary; base64 needs no
			// escaping.
			b = append(b, `" value="`...)
			b = base64.StdEncoding.AppendEncode(b, []byte(d.Value))
			b = append(b, `"></ParticipantObjectDetail>`...)
		}
		b = append(b, `</ParticipantObjectIdentification>`...)
	}
	return append(b, `</AuditMessage>`...), nil
}

// appendTime appends the event's time (now when unset) as both encodings
// write it.
func (e *Event) appendTime(b []byte) []byte {
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
}

// xmlSize is the length of the event's XML before escaping (escaping only
// lengthens it), so that XML allocates its buffer once for most events.
func (e *Event) xmlSize() int {
	n := 420 + len(e.Action) + len(e.OutcomeDesc) + codeSize(e.ID) + codeSize(e.Type) + len(e.AuditSite) + len(e.AuditSourceID)
	for _, c := range e.Subtypes {
		n += codeSize(c)
	}
	for _, p := range e.Participants {
		n += 200 + len(p.UserID) + len(p.AltUserID) + len(p.UserName) + len(p.Address) + codeSize(p.Role)
		if p.Media.Code != "" {
			n += 40 + codeSize(p.Media)
		}
	}
	for _, o := range e.Objects {
		n += 200 + len(o.ID) + codeSize(o.IDType)
		for _, d := range o.Details {
			n += 80 + len(d.Type) + base64.StdEncoding.EncodedLen(len(d.Value))
		}
	}
	return n
}

func codeSize(c Code) int {
	return 120 + len(c.Code) + len(c.System) + len(c.DisplayName) + len(c.Text)
}

// appendCode appends c as the element name (a DICOM coded value: empty
// displayName and originalText are left out).
func appendCode(b []byte, name string, c Code) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, ` csd-code="`...)
	b = appendEscaped(b, c.Code)
	b = append(b, `" codeSystemName="`...)
	b = appendEscaped(b, c.System)
	b = append(b, '"')
	b = appendAttr(b, "displayName", c.DisplayName)
	b = appendAttr(b, "originalText", c.Text)
	b = append(b, `></`...)
	b = append(b, name...)
	return append(b, '>')
}

// appendAttr appends the optional attribute name="v", nothing when v is
// empty.
func appendAttr(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, `="`...)
	b = appendEscaped(b, v)
	return append(b, '"')
}

// xmlPlain marks the ASCII bytes appendEscaped copies as they are: not
// one of the five markup characters, and not a control character (tab,
// newline and carriage return are written as character references, the
// others are not XML characters).
var xmlPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"'&<>` {
		t[c] = false
	}
	return t
}()

// appendEscaped appends s escaped as encoding/xml escapes text and
// attribute values (its EscapeText): the markup characters, tab, newline
// and carriage return as references, and each rune that is not an XML
// Char, and each byte of invalid UTF-8, as U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if xmlPlain[c] {
				continue
			}
			var esc string
			switch c {
			case '"':
				esc = "&#34;"
			case '\'':
				esc = "&#39;"
			case '&':
				esc = "&amp;"
			case '<':
				esc = "&lt;"
			case '>':
				esc = "&gt;"
			case '\t':
				esc = "&#x9;"
			case '\n':
				esc = "&#xA;"
			case '\r':
				esc = "&#xD;"
			default:
				esc = "\uFFFD"
			}
			b = append(b, s[last:i-1]...)
			b = append(b, esc...)
			last = i
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		if xmlChar(r) && !(r == utf8.RuneError && width == 1) {
			continue
		}
		b = append(b, s[last:i-width]...)
		b = append(b, "\uFFFD"...)
		last = i
	}
	return append(b, s[last:]...)
}

// xmlChar reports whether r, at or above U+0080, is in the Char
// production of XML 1.0 (section 2.2).
func xmlChar(r rune) bool {
	return r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// napType is NetworkAccessPointTypeCode: 2 for an IP address, 1 for a
// machine name. An IPv6 address keeps its zone (fe80::1%12, a link-local
// peer), which net.ParseIP does not always take.
func napType(addr string) string {
	if _, err := netip.ParseAddr(addr); err == nil {
		return "2"
	}
	return "1"
}

// Export describes one bundle delivered to the exchange, for ExportEvent.
type Export struct {
	// Gateway names this gateway as the sending application (typically
	// the audit source id); GatewayAddr is its host name or address.
	Gateway, GatewayAddr string
	// ExchangeURL is the receiving endpoint; ExchangeAddr its host.
	ExchangeURL, ExchangeAddr string
	// MHD marks a bundle of the IHE MHD converter: with SubmissionSet an
	// ITI-65 Provide Document Bundle, with Document an ITI-105 Simplified
	// Publish; otherwise (and without MHD) the event type is a FHIR
	// transaction.
	MHD bool
	// V2MessageType, when set, marks an HL7 v2 message forwarded as it
	// was received (an mllps:// exchange): the event type is that
	// message type (MSH-9), as for its Import.
	V2MessageType string
	// PatientID, when its Value is set, names the patient by its
	// identifier (PatientIdentifier); otherwise Patient is the patient's
	// id and IDType its kind (IDPatientKey for ferry's hash); both empty
	// when the bundle names no patient.
	PatientID PatientID
	Patient   string
	IDType    Code
	// ControlID is the HL7 v2 message control id the bundle came from.
	ControlID string
	// SubmissionSet is the MHD submission set unique id (MHD only).
	SubmissionSet string
	// Document, set instead of SubmissionSet, is the unique id of a
	// document published by itself with MHD Simplified Publish: the
	// event is then ITI-105's (MHD only).
	Document string
	// File marks a bundle delivered as a file (an SFTP drop, the outbox): there was
	// no HTTP request, so no X-Request-Id to name.
	File bool
	// BundleID is the Bundle identifier (ferry's queue item id).
	BundleID    string
	Outcome     Outcome
	OutcomeDesc string
	Time        time.Time
}

// ExportEvent builds the DCM 110106 Export event a document source records
// for ITI-65 (audit-65.fsh: source and recipient agents, the patient and
// the submission set as entities), or for ITI-105 (the document in place
// of the submission set, and no Bundle). A plain FHIR transaction is recorded in
// the same shape with subtype restful-interaction "transaction": BALP's
// REST patterns are one interaction each (create, update, ...) and have
// none for a transaction that holds several. The Bundle entity's id is
// ferry's queue item id, which each delivery attempt also sends as
// X-Request-Id, so the exchange's own logs can be matched to the event;
// a FHIR delivery's event also names that header value as BALP's
// XrequestId entity. An ITI-65 event names neither, as MHD's profile of
// it admits only the patient and the submission set: the bundle id is a
// detail of the submission set ("X-Request-Id", or "bundle-id" for a
// file delivery).
func ExportEvent(x Export) Event {
	ev := Event{
		ID: EventExport, Type: TypeFHIRTransaction, Action: ActionRead,
		Outcome: x.Outcome, OutcomeDesc: x.OutcomeDesc, Time: x.Time,
		Participants: []Participant{
			{UserID: x.Gateway, Requestor: true, Address: x.GatewayAddr, Role: RoleSource},
			{UserID: x.ExchangeURL, Address: x.ExchangeAddr, Role: RoleDestination},
		},
	}
	switch {
	case x.MHD && x.Document != "":
		// MHD's ITI-105 source audit is BALP's PatientCreate with
		// ITI-105 as a second subtype: type rest, subtype create, action
		// C (IHE.MHD.SimplifiedPublish.Audit.Source).
		ev.ID, ev.Type, ev.Subtypes, ev.Action = EventREST, TypeRESTCreate, []Code{TypeITI105}, ActionCreate
	case x.MHD && x.SubmissionSet != "":
		// A Provide Document Bundle holds exactly one SubmissionSet: a
		// bundle of the MHD converter's without one (the batch that
		// marks a replaced document superseded) is no ITI-65, and is
		// recorded as a FHIR transaction, as a C-CDA's is.
		ev.Type = TypeITI65
	case x.V2MessageType != "":
		ev.Type = TypeInput("hl7v2", x.V2MessageType)
	}
	switch {
	case x.PatientID.Value != "":
		ev.Objects = append(ev.Objects, PatientIdentifier(x.PatientID, x.ControlID))
	case x.Patient != "":
		ev.Objects = append(ev.Objects, PatientObject(x.Patient, x.IDType, x.ControlID))
	}
	switch {
	case x.MHD && x.Document != "":
		// ITI-105's source audit names the DocumentReference as a
		// system object in the role of a job, as ITI-65's names the
		// SubmissionSet (MHD 4.2 audit-105).
		ev.Objects = append(ev.Objects, Object{ID: x.Document, IDType: IDDocumentEntry, TypeCode: 2, Role: 20})
	case x.MHD && x.SubmissionSet != "":
		// MHD's ITI-65 source audit (IHE.MHD.ProvideBundle.Audit.Source)
		// has exactly two entities, the patient and the submission set
		// ("entity 2..2", closed; submissionSet 1..1 a system object in
		// the role of a job), so the bundle is no entity of its own: its
		// id, which each HTTP attempt sends as X-Request-Id, is a detail
		// of the submission set.
		o := Object{ID: x.SubmissionSet, IDType: IDSubmissionSet, TypeCode: 2, Role: 20}
		switch {
		case x.BundleID == "":
		case x.File:
			o.Details = append(o.Details, Detail{Type: "bundle-id", Value: x.BundleID})
		default:
			o.Details = append(o.Details, Detail{Type: "X-Request-Id", Value: x.BundleID})
		}
		ev.Objects = append(ev.Objects, o)
		return ev
	}
	if x.BundleID != "" {
		if !x.MHD || x.Document == "" {
			// A Simplified Publish sends no Bundle; its request is
			// still named by its X-Request-Id below.
			ev.Objects = append(ev.Objects, Object{ID: x.BundleID, IDType: IDBundle, TypeCode: 2, Role: 20})
		}
		if x.V2MessageType == "" && !x.File {
			// Every HTTP attempt sends the item id as X-Request-Id; BALP
			// records that header as an entity of its own.
			ev.Objects = append(ev.Objects, Object{ID: x.BundleID, IDType: IDXRequestID, TypeCode: 4})
		}
	}
	return ev
}

// Import describes one input received (an MLLP message, a dropped file),
// for ImportEvent.
type Import struct {
	// Sender identifies the sending application (MSH-3^MSH-4, or the
	// source name such as "folder/ehr" for files); SenderAddr is the
	// remote address, empty for folders.
	Sender, SenderAddr string
	// Gateway and GatewayAddr identify this gateway as the receiver.
	Gateway, GatewayAddr string
	// Format is the input format (hl7v2, ccda, fhir, fax) and MessageType
	// the HL7 v2 MSH-9 when known.
	Format, MessageType string
	ControlID           string
	// Input identifies the input by its content hash ("sha256:<hex>",
	// see IDInput). It must not be a file name, which may carry PHI.
	Input string
	// PatientIDs name the patients of the input by their identifiers
	// (PatientIdentifier), one object each (a batch file may hold
	// several); when there are none, Patient and IDType name one as
	// Export's do.
	PatientIDs []PatientID
	Patient    string
	IDType     Code
	// Operator is the person who fed the input in, for a backfill run by
	// hand (nil for the live sources).
	Operator *Operator
	// Media, when set, names the media the input was read from (a watched
	// folder's "file:" URI, a fax mailbox's "imap:" URL; never the file)
	// and MediaType its kind (MediaURI, MediaEmail): the "Source Media"
	// participant DICOM PS3.15 A.5.3.5 requires of a Data Import.
	Media       string
	MediaType   Code
	Outcome     Outcome
	OutcomeDesc string
	Time        time.Time
}

// ImportEvent builds the DCM 110107 Import event for an input received.
func ImportEvent(x Import) Event {
	ev := Event{
		ID: EventImport, Type: TypeInput(x.Format, x.MessageType), Action: ActionCreate,
		Outcome: x.Outcome, OutcomeDesc: x.OutcomeDesc, Time: x.Time,
		Participants: []Participant{
			{UserID: x.Sender, Requestor: true, Address: x.SenderAddr, Role: RoleSource},
			{UserID: x.Gateway, Address: x.GatewayAddr, Role: RoleDestination},
		},
	}
	if o := x.Operator; o != nil {
		// DICOM PS3.15 A.5.3.5: "A single user (either local or remote)
		// shall be identified as the requestor": the person who fed the
		// input in, not the sender whose input it was.
		ev.Participants[0].Requestor = false
		ev.Participants = append(ev.Participants, Participant{UserID: o.UserID, AltUserID: o.AltUserID, UserName: o.UserName,
			Requestor: true, Address: o.Address, Role: RoleHumanUser})
	}
	if x.Media != "" {
		// "Source Media (1)": UserIsRequestor "Shall be false",
		// MediaIdentifier and MediaType mandatory.
		ev.Participants = append(ev.Participants, Participant{UserID: x.Media, Role: RoleSourceMedia, Media: x.MediaType})
	}
	switch {
	case len(x.PatientIDs) > 0:
		for i, id := range x.PatientIDs {
			ctl := x.ControlID
			if i > 0 {
				ctl = ""
			}
			ev.Objects = append(ev.Objects, PatientIdentifier(id, ctl))
		}
	case x.Patient != "":
		ev.Objects = append(ev.Objects, PatientObject(x.Patient, x.IDType, x.ControlID))
	case x.ControlID != "":
		ev.Objects = append(ev.Objects, Object{ID: x.ControlID, IDType: Code{Code: "MSH-10", System: "HL7 v2", Text: "message control id"}, TypeCode: 2, Role: 3})
	}
	if x.Input != "" {
		ev.Objects = append(ev.Objects, Object{ID: x.Input, IDType: IDInput, TypeCode: 2, Role: 3})
	}
	return ev
}
