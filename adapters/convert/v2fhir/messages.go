package v2fhir

import (
	"strings"

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
	trigger := x.m.Type().Trigger
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
	var (
		report *reportBuilder
		obs    *obsBuilder
	)
	flushObs := func() error {
		if obs == nil {
			return nil
		}
		ref, err := obs.finish(x)
		obs = nil
		if err != nil {
			return err
		}
		if report != nil {
			report.dr.Result = append(report.dr.Result, ref)
		}
		return nil
	}
	flushReport := func() error {
		if err := flushObs(); err != nil {
			return err
		}
		if report == nil {
			return nil
		}
		ref := report.finish(x)
		x.focus = append(x.focus, ref)
		report = nil
		return nil
	}
	sawOBR := false
	var orc hl7v2.Segment
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "PID":
			if err := flushReport(); err != nil {
				return err
			}
			ref, err := x.patient(seg)
			if err != nil {
				return err
			}
			x.patientRef = ref
			x.encRef = nil
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
			if err := flushReport(); err != nil {
				return err
			}
			orc = seg
			x.enterOrder(seg)
		case "OBR":
			if err := flushReport(); err != nil {
				return err
			}
			if x.patientRef == nil {
				return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing before OBR"}
			}
			sawOBR = true
			r, err := x.newReport(seg)
			if err != nil {
				return err
			}
			// The order this report answers, by its placer number: a
			// logical reference, since the order may live elsewhere.
			if ids, _ := x.orderIDs(orc, seg); len(ids) > 0 && ids[0].Type.Coding[0].Code == "PLAC" {
				p := ids[0]
				r.dr.BasedOn = []fhir.Reference{{Type: "ServiceRequest", Identifier: &p}}
			}
			orc = hl7v2.Segment{}
			report = r
		case "OBX":
			if err := flushObs(); err != nil {
				return err
			}
			if x.patientRef == nil {
				return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing before OBX"}
			}
			if strings.EqualFold(seg.Field(2).Text(1), "ED") {
				// An encapsulated document is the report's presented form,
				// not an Observation value (R4 has no valueAttachment).
				att, err := x.encapsulated(seg)
				if err != nil {
					return err
				}
				if att == nil {
					// An ED without data carries nothing (the original
					// message is kept in the Binary either way).
					continue
				}
				if report != nil {
					report.dr.PresentedForm = append(report.dr.PresentedForm, *att)
					continue
				}
			}
			o, err := x.newObservation(seg, report)
			if err != nil {
				return err
			}
			obs = o
		case "SPM":
			if err := flushObs(); err != nil {
				return err
			}
			if report != nil {
				ref, err := x.specimen(seg, report)
				if err != nil {
					return err
				}
				report.dr.Specimen = append(report.dr.Specimen, ref)
				report.specimen = &ref
			}
		case "NTE":
			if obs != nil {
				obs.note(seg)
			} else if report != nil {
				report.note(seg)
			}
		}
	}
	if err := flushReport(); err != nil {
		return err
	}
	if x.patientRef == nil {
		return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing"}
	}
	if !sawOBR {
		return &ContentError{Segment: "OBR", Field: "OBR", Reason: "required segment missing"}
	}
	return nil
}
