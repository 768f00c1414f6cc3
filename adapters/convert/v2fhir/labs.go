package v2fhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

func init() {
	for _, t := range []string{"R22", "R23", "R24"} {
		handlers["OUL^"+t] = (*conv).oul
	}
}

// oul converts the unsolicited laboratory observations OUL^R22
// (specimen-oriented), R23 (specimen and container) and R24
// (order-oriented), following the v2-to-FHIR OUL_R22 message map: PID to
// Patient, PV1 to Encounter, SPM to Specimen, OBR to DiagnosticReport and
// OBX to Observation. In R22/R23 an SPM heads a specimen group and the OBR
// that follow report on it; in R24 an SPM follows its OBR. OBX directly
// under the patient or a specimen become Observations of that patient or
// specimen; OBX under an OBR are the report's results. SAC, INV, TXA, PRT
// and CTI carry nothing ferry maps (the original message stays in the
// Binary).
func (x *conv) oul() error {
	orderFirst := x.m.Type().Trigger == "R24"
	var (
		report   *reportBuilder
		obs      *obsBuilder
		specimen *fhir.Reference // current specimen group (R22/R23)
		spmScope = &reportBuilder{key: fhir.Identifier{Value: x.m.ControlID()}}
		results  int
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
		results++
		if report != nil {
			report.dr.Result = append(report.dr.Result, ref)
		} else {
			x.focus = append(x.focus, ref)
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
		x.focus = append(x.focus, report.finish(x))
		report = nil
		results++
		return nil
	}
	// NTE after a TXA annotate the document, not the report or an OBX.
	inTXA := false
	for _, seg := range x.m.Segments() {
		if seg.Name != "NTE" {
			inTXA = seg.Name == "TXA"
		}
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
			specimen = nil
			x.focus = append(x.focus, *ref)
		case "PV1":
			if x.patientRef == nil {
				continue
			}
			if err := flushObs(); err != nil {
				return err
			}
			enc, err := x.encounter(seg, "unknown")
			if err != nil {
				return err
			}
			x.encRef = enc
		case "SPM":
			if x.patientRef == nil {
				return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing before SPM"}
			}
			if orderFirst && report != nil {
				if err := flushObs(); err != nil {
					return err
				}
				ref, err := x.specimen(seg, report)
				if err != nil {
					return err
				}
				report.dr.Specimen = append(report.dr.Specimen, ref)
				report.specimen = &ref
				continue
			}
			if err := flushReport(); err != nil {
				return err
			}
			ref, err := x.specimen(seg, spmScope)
			if err != nil {
				return err
			}
			specimen = &ref
		case "OBR":
			if err := flushReport(); err != nil {
				return err
			}
			if x.patientRef == nil {
				return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing before OBR"}
			}
			r, err := x.newReport(seg)
			if err != nil {
				return err
			}
			if specimen != nil && !orderFirst {
				r.dr.Specimen = append(r.dr.Specimen, *specimen)
				r.specimen = specimen
			}
			report = r
		case "OBX":
			if err := flushObs(); err != nil {
				return err
			}
			if x.patientRef == nil {
				return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing before OBX"}
			}
			if strings.EqualFold(seg.Field(2).Text(1), "ED") {
				att, err := x.encapsulated(seg)
				if err != nil {
					return err
				}
				if att == nil {
					continue // an ED without data carries nothing
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
			if report == nil && specimen != nil {
				o.o.Specimen = specimen
			}
			obs = o
		case "NTE":
			if inTXA {
				continue
			}
			if obs != nil {
				obs.note(seg)
			} else if report != nil {
				report.note(seg)
			}
		case "TXA":
			// A document inside the order: kept only in the Binary.
			if err := flushObs(); err != nil {
				return err
			}
		}
	}
	if err := flushReport(); err != nil {
		return err
	}
	if x.patientRef == nil {
		return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing"}
	}
	if results == 0 {
		return &ContentError{Segment: "OBR", Field: "OBR", Reason: "message carries neither an OBR nor an OBX result"}
	}
	return nil
}
