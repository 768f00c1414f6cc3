package main

import (
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/transport/audit"
)

// held records the disclosure policy's decision to keep a bundle back
// (STANDARDS.md §7: "apply a per-destination policy ... and audit the
// decision") as a DCM 110106 Export toward the exchange with outcome
// minor failure: the export was attempted by policy evaluation and not
// performed. The description names the label (a code such as R or
// 42CFRPart2, no PHI); the patient is named as for deliveries (by
// identifier unless audit.patient_identity is key), so the repository can
// pair it with a later release.
func (t *auditTrail) held(in adapters.Raw, u *pipeline.Unit, label string) {
	if t == nil {
		return
	}
	x := audit.Export{
		Gateway: t.gateway, GatewayAddr: t.host,
		ExchangeURL: t.exchangeURL, ExchangeAddr: t.exchangeHost,
		MHD:     mhdFormat(in.Format) && t.faxIsMHD,
		Patient: u.Key, IDType: audit.IDPatientKey,
		ControlID:     u.Attrs["control_id"],
		SubmissionSet: u.Attrs[pipeline.AttrSubmissionSet],
		Document:      u.Attrs[pipeline.AttrDocument],
		PatientID:     t.unitPatient(u),
		Outcome:       audit.OutcomeMinorFailure,
		OutcomeDesc:   "held by policy: " + label + "; not sent",
		Time:          time.Now(),
	}
	t.rec.Record(audit.ExportEvent(x))
}

// unitPatient is u's patient identifier when events name identifiers.
func (t *auditTrail) unitPatient(u *pipeline.Unit) audit.PatientID {
	if !t.identifiers {
		return audit.PatientID{}
	}
	return audit.PatientID{System: u.Patient.System, Value: u.Patient.Value}
}
