package audit

import (
	"fmt"
	"time"
)

// OpKind is the kind of an operator action: its DICOM event ID and action
// code, and ferry's event type code (system urn:ferry:operator-action) so
// a repository can filter one kind.
type OpKind struct {
	ID     Code
	Action Action
	Type   Code
}

func opType(code, text string) Code {
	return Code{Code: code, System: "urn:ferry:operator-action", Text: text}
}

// The operator actions ferry records. The event IDs follow DICOM PS3.15
// A.5.3 and PS3.16 CID 400:
//
//   - Releasing a held bundle overrides the disclosure policy: content kept
//     back because of its security label goes to the exchange after all.
//     It is recorded as DCM 110106 Export (action R, as DICOM requires for
//     Export), the counterpart of the Export with outcome 4 that recorded
//     the hold, with the person as requestor and the exchange as
//     destination. The delivery itself is recorded again when the
//     exchange accepts the bundle.
//   - Everything else is DCM 110110 Patient Record with the action code
//     of what happened to the stored bundle or input: R for reading a
//     dead letter (its body and the exchange's answer hold PHI) or a
//     quarantined input (its reason may quote it, its name may be the
//     patient's), U for putting a dead letter back into the queue or
//     converting a quarantined input again, D for deleting either or
//     discarding a held bundle.
//   - A backup (`ferry backup`) copies every bundle, input and registry
//     the data folder holds into an archive: DCM 110106 Export, action R,
//     with the person as requestor, the gateway as source, the archive
//     (file:PATH, or stdout:) as the Destination Media (110154, MediaType
//     110037 URI) and the data folder as the object. It names no
//     patient: the archive holds them all.
//   - Taking back a merge sent in error (`ferry merges undo`) changes
//     which patient later inputs are filed to: Patient Record, U, the
//     retired identifier's patient as the participant. Listing the
//     merged patients' identifiers (`ferry merges list --phi`) discloses
//     chart numbers: Patient Record, R, the registry as the object.
var (
	OpHeldRelease      = OpKind{ID: EventExport, Action: ActionRead, Type: opType("held-release", "held bundle released for sending (disclosure policy override)")}
	OpHeldDiscard      = OpKind{ID: EventPatientRecord, Action: ActionDelete, Type: opType("held-discard", "held bundle discarded, never sent")}
	OpDeadLetterRead   = OpKind{ID: EventPatientRecord, Action: ActionRead, Type: opType("dead-letter-read", "dead letter read")}
	OpDeadLetterRetry  = OpKind{ID: EventPatientRecord, Action: ActionUpdate, Type: opType("dead-letter-retry", "dead letter put back into the queue")}
	OpDeadLetterPurge  = OpKind{ID: EventPatientRecord, Action: ActionDelete, Type: opType("dead-letter-purge", "dead letter deleted")}
	OpQuarantineRead   = OpKind{ID: EventPatientRecord, Action: ActionRead, Type: opType("quarantine-read", "quarantined input read")}
	OpQuarantineReplay = OpKind{ID: EventPatientRecord, Action: ActionUpdate, Type: opType("quarantine-replay", "quarantined input converted again")}
	OpQuarantinePurge  = OpKind{ID: EventPatientRecord, Action: ActionDelete, Type: opType("quarantine-purge", "quarantined input deleted")}
	OpMergeUndo        = OpKind{ID: EventPatientRecord, Action: ActionUpdate, Type: opType("merge-undo", "patient merge taken back (sent in error)")}
	OpMergeRead        = OpKind{ID: EventPatientRecord, Action: ActionRead, Type: opType("merge-read", "merged patients' identifiers read")}
	OpBackup           = OpKind{ID: EventExport, Action: ActionRead, Type: opType("backup", "data folder copied into a backup archive")}
)

// Operator identifies the person behind an operator action.
type Operator struct {
	// UserID is the operating-system account that ran the command, or
	// "ops-api" for the gateway's token-guarded API (the token proves
	// only that the caller can read the data folder).
	UserID string
	// AltUserID is optional: for ops-api, the account the client says ran
	// it (not verified); for a command, the numeric user id.
	AltUserID string
	// UserName is optional: the account that ran sudo, when it did.
	UserName string
	// Address is the machine's host name, or the API client's address.
	Address string
}

// OperatorAction describes one operator action on data ferry keeps, for
// OperatorEvent. It names the patient only by ferry's patient key and the
// bundle by its id: never a name, a chart number or a file name.
type OperatorAction struct {
	Kind     OpKind
	Operator Operator
	// Gateway and GatewayAddr identify this gateway.
	Gateway, GatewayAddr string
	// ExchangeURL and ExchangeAddr are the destination (OpHeldRelease;
	// for OpBackup the archive, as file:PATH, and this machine).
	ExchangeURL, ExchangeAddr string
	// Patient is ferry's patient key (IDPatientKey); empty when unknown.
	Patient   string
	ControlID string
	// Object is the bundle's id, typed ObjectType (IDBundle for a queue
	// item or dead letter, IDHeldBundle for a held entry, IDQuarantined
	// for a quarantined input). QueueID is the queue item a released
	// bundle or a replayed input became.
	Object     string
	ObjectType Code
	QueueID    string
	// Label is the security label a held bundle carries (R, 42CFRPart2).
	Label       string
	Outcome     Outcome
	OutcomeDesc string
	Time        time.Time
}

// OperatorEvent builds the audit event for x: the person as requestor
// (BALP humanuser), the gateway as the application holding the bundle
// (the source, for a release, with the exchange as destination), the
// patient and the bundle as participant objects.
func OperatorEvent(x OperatorAction) Event {
	ev := Event{
		ID: x.Kind.ID, Type: x.Kind.Type, Action: x.Kind.Action,
		Outcome: x.Outcome, OutcomeDesc: x.OutcomeDesc, Time: x.Time,
		Participants: []Participant{{
			UserID: x.Operator.UserID, AltUserID: x.Operator.AltUserID, UserName: x.Operator.UserName,
			Requestor: true, Address: x.Operator.Address, Role: RoleHumanUser,
		}},
	}
	if x.Kind.ID == EventExport {
		dest := Participant{UserID: x.ExchangeURL, Address: x.ExchangeAddr, Role: RoleDestination}
		if x.Kind == OpBackup {
			// A Data Export to media (DICOM PS3.15 A.5.3.4): the
			// archive is the "Destination Media (1)", not the
			// requestor, with its MediaType.
			dest.Role, dest.Media = RoleDestinationMedia, MediaURI
		}
		ev.Participants = append(ev.Participants,
			Participant{UserID: x.Gateway, Address: x.GatewayAddr, Role: RoleSource}, dest)
	} else {
		ev.Participants = append(ev.Participants, Participant{UserID: x.Gateway, Address: x.GatewayAddr, Role: RoleApplication})
	}
	if x.Patient != "" {
		ev.Objects = append(ev.Objects, PatientObject(x.Patient, IDPatientKey, x.ControlID))
	}
	if x.Object != "" {
		typ := x.ObjectType
		if typ.Code == "" {
			typ = IDBundle
		}
		o := Object{ID: x.Object, IDType: typ, TypeCode: 2, Role: 20}
		if x.Label != "" {
			o.Details = append(o.Details, Detail{Type: "security-label", Value: x.Label})
		}
		ev.Objects = append(ev.Objects, o)
	}
	if x.QueueID != "" {
		ev.Objects = append(ev.Objects, Object{ID: x.QueueID, IDType: IDBundle, TypeCode: 2, Role: 20})
	}
	return ev
}

// LoginFailure builds the audit event for a refused authentication: who
// tried (as far as the request says: op's address and the account it
// named, unverified), against which gateway, and why (reason, without the
// credential itself). EventUserAuthentication / Login, action Execute,
// outcome minor failure (DICOM PS3.15 A.5.3.14).
func LoginFailure(op Operator, gateway, gatewayAddr, reason string, t time.Time) Event {
	return Event{
		ID: EventUserAuthentication, Type: TypeLogin, Action: ActionExecute,
		Outcome: OutcomeMinorFailure, OutcomeDesc: reason, Time: t,
		Participants: []Participant{
			{UserID: op.UserID, AltUserID: op.AltUserID, UserName: op.UserName, Requestor: true, Address: op.Address, Role: RoleHumanUser},
			{UserID: gateway, Address: gatewayAddr, Role: RoleApplication},
		},
	}
}

// ApplicationActivity builds the Application Activity event (DICOM PS3.15
// A.5.3.1) for the gateway starting (start true) or stopping: action
// Execute, the gateway as the application (its process id as
// AlternativeUserID) and, when known, the account that runs it as the
// requesting Application Launcher. It names no patient.
func ApplicationActivity(start bool, gateway, gatewayAddr, procID string, launcher *Operator, t time.Time) Event {
	typ := TypeApplicationStart
	if !start {
		typ = TypeApplicationStop
	}
	ev := Event{
		ID: EventApplicationActivity, Type: typ, Action: ActionExecute, Outcome: OutcomeSuccess, Time: t,
		Participants: []Participant{{UserID: gateway, AltUserID: procID, Requestor: launcher == nil, Address: gatewayAddr, Role: RoleApplication}},
	}
	if o := launcher; o != nil {
		ev.Participants = append(ev.Participants, Participant{UserID: o.UserID, AltUserID: o.AltUserID, UserName: o.UserName,
			Requestor: true, Address: o.Address, Role: RoleApplicationLauncher})
	}
	return ev
}

// UncleanStop builds the Security Alert (DICOM PS3.15 A.5.3.11) of type
// Audit Recording Stopped (110133) for a gateway whose previous run,
// started at lastStart as process lastPID, ended without stopping (a
// crash, kill -9, a power cut): the events it had recorded but not yet
// sent or spooled are lost, and the trail has a gap it would otherwise
// show only as a start without a stop. Outcome serious failure, the
// gateway as the reporting application.
func UncleanStop(gateway, gatewayAddr string, lastStart time.Time, lastPID string, t time.Time) Event {
	return Event{
		ID: EventSecurityAlert, Type: TypeAuditRecordingStopped, Action: ActionExecute, Outcome: OutcomeSeriousFail,
		OutcomeDesc: fmt.Sprintf("the gateway's previous run (process %s, started %s) ended without stopping (a crash, a kill or a power cut): "+
			"audit events it had recorded but not yet sent or spooled are lost; the audit trail may have a gap after its last event",
			lastPID, lastStart.UTC().Format(time.RFC3339)),
		Time:         t,
		Participants: []Participant{{UserID: gateway, Requestor: true, Address: gatewayAddr, Role: RoleApplication}},
	}
}

// NodeAuthFailure builds the Security Alert (DICOM PS3.15 A.5.3.11) for a
// peer at peerAddr that failed node authentication at one of ferry's
// listeners: action Execute, outcome minor failure, the gateway as the
// reporting process (requestor), the peer as the source it claimed to
// be, and the listener as the alert subject (type 2, role 13 Security
// Resource), named by its URI (listenerURI, mllp://host:port or
// mllps://host:port) and typed RFC-3881 12 URI, as A.5.3.11 types a
// subject URI or Node ID, with the reason (PHI-free: a TLS or allow-list
// error) as its Alert Description detail and as the outcome description,
// and the listener's name (such as "mllp/main") as its "listener" detail.
func NodeAuthFailure(gateway, gatewayAddr, listener, listenerURI, peerAddr, reason string, t time.Time) Event {
	return Event{
		ID: EventSecurityAlert, Type: TypeNodeAuthentication, Action: ActionExecute,
		Outcome: OutcomeMinorFailure, OutcomeDesc: reason, Time: t,
		Participants: []Participant{
			{UserID: gateway, Requestor: true, Address: gatewayAddr, Role: RoleApplication},
			{UserID: peerAddr, Address: peerAddr, Role: RoleSource},
		},
		Objects: []Object{{ID: listenerURI, IDType: IDURI, TypeCode: 2, Role: 13,
			Details: []Detail{{Type: "Alert Description", Value: reason}, {Type: "listener", Value: listener}}}},
	}
}

// RemoteAuthFailure builds the Security Alert (DICOM PS3.15 A.5.3.11) for
// a node ferry connected to that failed node authentication: the
// exchange, its token endpoint or another server whose TLS certificate
// did not verify, or that refused ferry's client certificate. Action
// Execute, outcome minor failure, event type 110126 Node Authentication;
// the gateway as the reporting process and the side that connected
// (requestor, Source Role ID), the node as the destination it tried to
// reach (remote, as scheme://host:port, with remoteAddr, its host, as the
// network access point), and that node as the alert subject (type 2,
// role 13 Security Resource, typed RFC-3881 12 URI) with the reason
// (PHI-free: the TLS diagnosis) as its Alert Description detail and as
// the outcome description. The direction tells it from NodeAuthFailure,
// where the peer is the source.
func RemoteAuthFailure(gateway, gatewayAddr, remote, remoteAddr, reason string, t time.Time) Event {
	return Event{
		ID: EventSecurityAlert, Type: TypeNodeAuthentication, Action: ActionExecute,
		Outcome: OutcomeMinorFailure, OutcomeDesc: reason, Time: t,
		Participants: []Participant{
			{UserID: gateway, Requestor: true, Address: gatewayAddr, Role: RoleSource},
			{UserID: remote, Address: remoteAddr, Role: RoleDestination},
		},
		Objects: []Object{{ID: remote, IDType: IDURI, TypeCode: 2, Role: 13,
			Details: []Detail{{Type: "Alert Description", Value: reason}}}},
	}
}
