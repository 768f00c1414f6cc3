package v2fhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// encounterStatus is the Encounter status an ADT trigger implies. An A08
// updates patient information and implies none (the IG's event to
// Encounter.status map: unknown); PV1-45 still makes its visit finished.
var encounterStatus = map[string]string{
	"A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "arrived",
	"A05": "planned", "A06": "in-progress", "A07": "in-progress", "A08": "unknown",
	"A09": "in-progress", "A10": "in-progress", "A11": "cancelled", "A12": "in-progress",
	"A13": "in-progress", "A14": "planned", "A15": "in-progress", "A16": "in-progress",
	"A25": "in-progress", "A26": "in-progress", "A27": "cancelled", "A38": "cancelled",
}

// adt converts the ADT events: Patient from PID (with NK1 contacts and the
// PD1 primary care provider), Encounter from PV1, and the AL1, DG1, PR1 and
// IN1 segments; A40 also writes the merged-away patient from MRG.
func (x *conv) adt() error {
	trigger := x.typ.Trigger
	if trigger == "A40" {
		x.groupMRG, _ = x.firstMRG()
	}
	if err := x.messagePatient(); err != nil {
		return err
	}
	if trigger == "A40" {
		if err := x.merge(); err != nil {
			return err
		}
		if err := x.laterMerges(); err != nil {
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

// laterMerges converts the patient groups of an A40 after the first
// (ADT_A39 repeats PID, PD1, MRG, PV1): each PID is a surviving patient
// and the MRG that follows it the record merged into it. A group without
// its MRG is refused rather than written as a plain update, which would
// acknowledge a merge ferry did not make. For the same reason an MRG
// after its group's first (PID, MRG, MRG: two records merged into one
// patient, as some senders write it) is a record merged into that
// group's patient too, not left unread.
func (x *conv) laterMerges() error {
	var pid hl7v2.Segment
	seenPID, first, grouped := 0, true, false
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "PID":
			if seenPID > 0 && pid.Name != "" {
				return &ContentError{Segment: "MRG", Pos: pid.Pos(), Field: "MRG", Reason: "required segment missing for a merge"}
			}
			seenPID++
			pid, grouped = seg, false
			if first {
				first = false
				pid = hl7v2.Segment{} // the message's patient, merged already
				continue
			}
		case "MRG":
			if pid.Name == "" {
				if seenPID == 0 {
					continue
				}
				if !grouped && seenPID == 1 {
					grouped = true // the first group's MRG: merge did it
					continue
				}
				// Another MRG of the group whose patient (x.patientRef)
				// was just written.
				if err := x.mergeInto(seg); err != nil {
					return err
				}
				continue
			}
			grouped = true
			x.groupMRG = seg
			ref, err := x.patient(pid)
			if err != nil {
				return err
			}
			x.patientRef = ref
			x.focus = append(x.focus, *ref)
			if err := x.mergeInto(seg); err != nil {
				return err
			}
			pid = hl7v2.Segment{}
		}
	}
	if pid.Name != "" {
		return &ContentError{Segment: "MRG", Pos: pid.Pos(), Field: "MRG", Reason: "required segment missing for a merge"}
	}
	return nil
}

// oru converts ORU^R01: for each patient group a Patient (and Encounter from
// PV1), then for each OBR a DiagnosticReport whose results are the OBX
// Observations that follow it, with NTE notes attached to the preceding OBX.
func (x *conv) oru() error {
	w := resultWalk{x: x}
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
			w.orc = seg
			x.enterOrder(seg)
		case "OBR":
			if err := w.openReport(seg); err != nil {
				return err
			}
			if err := w.reportOrder(seg, w.orc); err != nil {
				return err
			}
			w.orc = hl7v2.Segment{}
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

// reportOrder makes the open report, OBR's, basedOn the order it
// answers: with its order group's ORC (orc), the ServiceRequest
// resultOrder writes; without one the IG writes no order (OBR to
// ServiceRequest "IF ORC VALUED"), and the order, by its placer number,
// is a logical reference, since it may live elsewhere.
func (w *resultWalk) reportOrder(obr, orc hl7v2.Segment) error {
	r := w.report
	if orc.Name != "" {
		ref, ok, err := w.x.resultOrder(orc, obr, &w.orders)
		if err != nil {
			return err
		}
		if ok {
			r.basedOn[0] = ref
			r.dr.BasedOn = r.basedOn[:]
		}
	} else if placer := w.x.ei(obr.Field(2), "PLAC", "placer"); placer != nil {
		r.basedOn[0] = fhir.Reference{Type: "ServiceRequest", Identifier: placer}
		r.dr.BasedOn = r.basedOn[:]
	}
	return nil
}

// resultOrderRef is an order an ORU^R01 or OUL wrote, by its key.
type resultOrderRef struct {
	key fhir.Identifier
	ref fhir.Reference
}

// resultOrder writes the order a result answers, its ORC and OBR (the
// IG's ORU_R01 map: ORC[ServiceRequest] and OBR[ServiceRequest], which
// the DiagnosticReport is basedOn, "needed if the receiver is not the
// originator of the order"), so that the exchange learns who ordered the
// test (ORC-12, else OBR-16). It is keyed as the order message keys it
// (orderIDs: the placer number, else the filler's), so the clinic's ORM
// and the lab's ORU write one ServiceRequest. ORC-9 is its authoredOn only
// with ORC-1 NW, as the IG maps it: with RE it is the time of the result's
// event, not of the order. Reports of one order (a
// culture and its susceptibilities under one placer number) share the
// first one's ServiceRequest. ok is false when the order has neither
// number.
func (x *conv) resultOrder(orc, obr hl7v2.Segment, written *[]resultOrderRef) (ref fhir.Reference, ok bool, err error) {
	ids, key := x.orderIDs(orc, obr)
	if key.Value == "" {
		return fhir.Reference{}, false, nil
	}
	for _, o := range *written {
		if o.key.System == key.System && o.key.Value == key.Value {
			return o.ref, true, nil
		}
	}
	var authored string
	if strings.EqualFold(orc.Field(1).Text(1), "NW") {
		if authored, err = x.fieldDateTime(orc, 9); err != nil {
			return fhir.Reference{}, false, err
		}
	}
	sr, err := x.orderRequest(orc, obr, x.resultTiming(obr, orc), ids)
	if err != nil {
		return fhir.Reference{}, false, err
	}
	sr.AuthoredOn = authored
	ref = x.add("ServiceRequest", key, sr)
	*written = append(*written, resultOrderRef{key: key, ref: ref})
	return ref, true, nil
}

// resultTiming is the TQ1 of the order group OBR heads (its TIMING_QTY,
// after the OBR and its NTE, before the results), if any. orc is the
// group's ORC, which in OUL follows the OBR (in ORU^R01 an ORC after the
// OBR is the next group's).
func (x *conv) resultTiming(obr, orc hl7v2.Segment) hl7v2.Segment {
	segs := x.m.Segments()
	for i := obr.Pos(); i > 0 && i < len(segs); i++ {
		switch segs[i].Name {
		case "TQ1":
			return segs[i]
		case "ORC":
			if orc.Name != "" && segs[i].Pos() == orc.Pos() {
				continue
			}
			return hl7v2.Segment{}
		case "OBX", "OBR", "PID", "SPM":
			return hl7v2.Segment{}
		}
	}
	return hl7v2.Segment{}
}

// followingORC is the ORC of the OUL order group obr heads: OUL_R22,
// R23 and R24 put it after its OBR (v2.8 after the OBR's PRT), and none
// when the next segment is anything else.
func (x *conv) followingORC(obr hl7v2.Segment) hl7v2.Segment {
	segs := x.m.Segments()
	for i := obr.Pos(); i > 0 && i < len(segs); i++ {
		switch segs[i].Name {
		case "ORC":
			return segs[i]
		case "PRT":
		default:
			return hl7v2.Segment{}
		}
	}
	return hl7v2.Segment{}
}
