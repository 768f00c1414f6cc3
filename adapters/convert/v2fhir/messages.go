package v2fhir

import (
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// encounterStatus is the Encounter status an ADT trigger implies.
var encounterStatus = map[string]string{
	"A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "arrived",
	"A05": "planned", "A06": "in-progress", "A07": "in-progress", "A08": "in-progress",
	"A09": "in-progress", "A10": "in-progress", "A11": "cancelled", "A12": "in-progress",
	"A13": "in-progress", "A14": "planned", "A15": "in-progress", "A16": "in-progress",
	"A25": "in-progress", "A26": "in-progress", "A27": "cancelled", "A38": "cancelled",
}

// adt converts the ADT events: Patient from PID (with NK1 contacts and the
// PD1 primary care provider), Encounter from PV1, and the AL1, DG1, PR1 and
// IN1 segments; A40 also writes the merged-away patient from MRG.
func (x *conv) adt() error {
	if err := x.messagePatient(); err != nil {
		return err
	}
	trigger := x.typ.Trigger
	if trigger == "A40" {
		if err := x.merge(); err != nil {
			return err
		}
	}
	if pv1, ok := x.m.Segment("PV1"); ok && trigger != "A28" && trigger != "A31" && trigger != "A40" {
		status := encounterStatus[trigger]
		if status == "" {
			status = "unknown"
		}
		enc, err := x.encounter(pv1, status)
		if err != nil {
			return err
		}
		if enc != nil {
			x.encRef = enc
			x.focus = append(x.focus, *enc)
		}
	}
	return x.clinicalSegments()
}

// oru converts ORU^R01: for each patient group a Patient (and Encounter from
// PV1), then for each OBR a DiagnosticReport whose results are the OBX
// Observations that follow it, with NTE notes attached to the preceding OBX.
func (x *conv) oru() error {
	w := resultWalk{x: x}
	var orc hl7v2.Segment
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "PID":
			if err := w.patient(seg); err != nil {
				return err
			}
		case "PV1":
			if x.patientRef == nil {
				continue
			}
			enc, err := x.encounter(seg, "unknown")
			if err != nil {
				return err
			}
			x.encRef = enc
		case "ORC":
			if err := w.closeReport(); err != nil {
				return err
			}
			orc = seg
			x.enterOrder(seg)
		case "OBR":
			if err := w.openReport(seg); err != nil {
				return err
			}
			// The order this report answers, by its placer number (ORC-2,
			// else OBR-2, as orderIDs reads it): a logical reference,
			// since the order may live elsewhere.
			placer := x.ei(orc.Field(2), "PLAC", "placer")
			if placer == nil {
				placer = x.ei(seg.Field(2), "PLAC", "placer")
			}
			if placer != nil {
				r := w.report
				r.basedOn[0] = fhir.Reference{Type: "ServiceRequest", Identifier: placer}
				r.dr.BasedOn = r.basedOn[:]
			}
			orc = hl7v2.Segment{}
		case "OBX":
			if err := w.openObs(seg); err != nil {
				return err
			}
		case "SPM":
			if err := w.reportSpecimen(seg); err != nil {
				return err
			}
		case "NTE":
			w.note(seg)
		}
	}
	if err := w.closeReport(); err != nil {
		return err
	}
	if x.patientRef == nil {
		return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing"}
	}
	if w.reports == 0 {
		return &ContentError{Segment: "OBR", Field: "OBR", Reason: "required segment missing"}
	}
	return nil
}
