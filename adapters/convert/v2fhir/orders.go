package v2fhir

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

func init() {
	handlers["VXU^V04"] = (*conv).vxu
	handlers["ORM^O01"] = (*conv).orders
	handlers["OML^O21"] = (*conv).orders
	handlers["RDE^O11"] = (*conv).pharmacyOrders
	for _, t := range []string{"S12", "S13", "S14", "S15", "S16", "S17", "S26"} {
		handlers["SIU^"+t] = (*conv).schedule
	}
	for _, t := range []string{"T02", "T04", "T06", "T08", "T10"} {
		handlers["MDM^"+t] = (*conv).document
	}
}

// patientContext converts the PID (required), PD1, NK1 and PV1 that head
// the order, vaccination, scheduling and document messages.
func (x *conv) patientContext() error {
	if err := x.messagePatient(); err != nil {
		return err
	}
	if pv1, ok := x.m.Segment("PV1"); ok {
		enc, err := x.encounter(pv1, "unknown")
		if err != nil {
			return err
		}
		x.encRef = enc
	}
	return nil
}

// orderIDs reads the placer (ORC-2, else OBR-2) and filler (ORC-3, else
// OBR-3) order numbers; key is the one that identifies the order here.
func (x *conv) orderIDs(orc, obr hl7v2.Segment) (ids []fhir.Identifier, key fhir.Identifier) {
	placer := x.ei(orc.Field(2), "PLAC", "placer")
	if placer == nil {
		placer = x.ei(obr.Field(2), "PLAC", "placer")
	}
	filler := x.ei(orc.Field(3), "FILL", "filler")
	if filler == nil {
		filler = x.ei(obr.Field(3), "FILL", "filler")
	}
	if placer != nil {
		ids = append(ids, *placer)
		key = *placer
	}
	if filler != nil {
		ids = append(ids, *filler)
		if key.Value == "" {
			key = *filler
		}
	}
	return ids, key
}

// orderStatus maps ORC-5 (table 0038), else ORC-1 (table 0119), to a
// request status; cancelled and discontinued are the names of a request
// withdrawn before it was acted on and of one halted once under way: a
// ServiceRequest has "revoked" for both, a MedicationRequest "cancelled"
// ("withdrawn before any administrations have occurred") and "stopped"
// (FHIR R4 medicationrequest-status).
func orderStatus(orc hl7v2.Segment, cancelled, discontinued string) string {
	switch strings.ToUpper(orc.Field(5).Text(1)) {
	case "A", "IP", "SC":
		return "active"
	case "CA", "RP":
		return cancelled
	case "DC":
		return discontinued
	case "CM":
		return "completed"
	case "ER":
		return "entered-in-error"
	case "HD":
		return "on-hold"
	}
	switch strings.ToUpper(orc.Field(1).Text(1)) {
	case "NW", "RL", "OR", "XO", "SN", "OK", "SC", "XR", "CH", "RF":
		// OR: released as requested, the filler's answer to RL. RE
		// (observations to follow) is not here: it says results come,
		// not what became of the order (the IG's map gives it no
		// status), and a result's order it made "active" stood open
		// at the exchange once reported on in full.
		return "active"
	case "CA", "OC", "CR":
		return cancelled
	case "DC", "OD", "DR":
		return discontinued
	case "HD", "OH", "HR":
		// HR: on hold as requested, the filler's answer to HD.
		return "on-hold"
	}
	return "unknown"
}

// orderChangeCodes are the ORC-1 order control codes (table 0119) that
// change an existing order's status: cancel, discontinue, hold, release
// and status changed, asked for or done.
var orderChangeCodes = map[string]bool{
	"CA": true, "OC": true, "CR": true, "DC": true, "OD": true, "DR": true,
	"HD": true, "OH": true, "HR": true, "RL": true, "OR": true, "SC": true,
}

var priorities = map[string]string{"S": "stat", "A": "asap", "R": "routine", "P": "routine", "T": "urgent", "C": "urgent"}

// orders converts ORM^O01 and OML^O21: one ServiceRequest per ORC (with
// the OBR that details it), NTE notes attached.
func (x *conv) orders() error {
	if err := x.patientContext(); err != nil {
		return err
	}
	var cur *orderGroup
	var groups []*orderGroup
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "ORC":
			cur = &orderGroup{orc: seg}
			groups = append(groups, cur)
		case "OBR":
			if cur == nil || cur.obr.Name != "" {
				cur = &orderGroup{orc: cur.orcOrEmpty()}
				groups = append(groups, cur)
			}
			cur.obr = seg
		case "TQ1":
			if cur != nil && cur.tq1.Name == "" {
				cur.tq1 = seg
			}
		case "NTE":
			switch {
			case cur == nil:
			case cur.obs != nil:
				cur.obs.notes = append(cur.obs.notes, seg)
			default:
				if t := nteText(seg); t != "" {
					cur.notes = append(cur.notes, fhir.Annotation{Text: t})
				}
			}
		case "DG1":
			if cur != nil {
				cur.obs = nil
				cur.dg1 = append(cur.dg1, seg)
			}
		case "OBX":
			// OML_O21's SPECIMEN group has OBX of its own, about the
			// specimen: those are left as before (in the Binary).
			if cur != nil && !cur.specimen {
				cur.obx = append(cur.obx, orderObs{obx: seg})
				cur.obs = &cur.obx[len(cur.obx)-1]
			}
		case "SPM":
			if cur != nil {
				cur.obs, cur.specimen = nil, true
			}
		case "AL1":
			// The patient's allergies (the PATIENT group, before the
			// first ORC): an AllergyIntolerance each, keyed as an ADT's
			// are. An AL1 after an ORC is OML_O21's PRIOR_RESULT's,
			// the allergies a prior result was reported with.
			if cur == nil {
				if err := x.allergy(seg); err != nil {
					return err
				}
			} else {
				cur.obs = nil
			}
		}
	}
	if len(groups) == 0 {
		return &ContentError{Segment: "ORC", Field: "ORC", Reason: "required segment missing"}
	}
	for _, g := range groups {
		if err := x.serviceRequest(g); err != nil {
			return err
		}
	}
	return nil
}

type orderGroup struct {
	orc, obr, tq1 hl7v2.Segment
	notes         []fhir.Annotation
	// dg1 and obx are the order detail's diagnoses and observations (the
	// IG's ORM_O01 ORDER_DETAIL: reasonReference and supportingInfo).
	dg1 []hl7v2.Segment
	obx []orderObs
	// obs is the OBX the NTE that follow describe; specimen is set once
	// the group's SPM (OML_O21) is reached.
	obs      *orderObs
	specimen bool
}

// orderObs is an order's OBX with its NTE.
type orderObs struct {
	obx   hl7v2.Segment
	notes []hl7v2.Segment
}

func (g *orderGroup) orcOrEmpty() hl7v2.Segment {
	if g == nil {
		return hl7v2.Segment{}
	}
	return g.orc
}

func (x *conv) serviceRequest(g *orderGroup) error {
	x.enterOrder(g.orc)
	ids, key := x.orderIDs(g.orc, g.obr)
	if key.Value == "" {
		// Neither placer nor filler number: the placer group number and
		// the ordered test still tell this order apart.
		if grp := g.orc.Field(4).Text(1); grp != "" {
			// The group number's namespace (ORC-4.2) names the placer
			// that counts it: an order router sends several placers'.
			sys := x.system("order")
			if ns := g.orc.Field(4).Text(2); ns != "" {
				sys += ":" + sanitise(ns)
			}
			key = fhir.Identifier{System: sys, Value: grp + "." + g.obr.Field(4).Text(1)}
			ids = append(ids, key)
		}
	}
	if key.Value == "" {
		seg := g.orc
		if seg.Name == "" {
			seg = g.obr
		}
		return x.badField(seg, 2, "order has neither placer nor filler number")
	}
	if g.obr.Name == "" && orderChangeCodes[strings.ToUpper(g.orc.Field(1).Text(1))] {
		if st := orderStatus(g.orc, "revoked", "revoked"); st != "unknown" {
			// An ORC alone that cancels, discontinues, holds or
			// releases an order says nothing of what was ordered:
			// written whole, it would replace the stored order's test
			// code with "unknown". Its status is PATCHed instead
			// (ChangeBatch), after the message's transaction.
			x.changeResource("ServiceRequest", key, st, "")
			return nil
		}
	}
	// ORC-9 is the time of this message's transaction: when the order
	// was placed only in a new order (the IG: authoredOn "IF ORC.1 IS
	// NW"), and a change or cancellation written whole would otherwise
	// date the order at the change.
	var authored string
	if strings.EqualFold(g.orc.Field(1).Text(1), "NW") {
		var err error
		if authored, err = x.fieldDateTime(g.orc, 9); err != nil {
			return err
		}
	}
	sr, err := x.orderRequest(g.orc, g.obr, g.tq1, ids)
	if err != nil {
		return err
	}
	sr.Note, sr.AuthoredOn = g.notes, authored
	if err := x.orderDetail(g, key, sr); err != nil {
		return err
	}
	x.focus = append(x.focus, x.add("ServiceRequest", key, sr))
	return nil
}

// orderRequest is the ServiceRequest an order's ORC, OBR and TQ1 describe
// (the IG's ORC, OBR and TQ1 to ServiceRequest maps; its priority TQ1-9,
// else OBR-27.6 or ORC-7.6, the TQ fields of v2.3), its requester the
// ordering provider (ORC-12, else OBR-16), as an order message and a
// result message (resultOrder) both write it. ORC-9 is left to the
// caller: it is when the order was placed only in an order message.
func (x *conv) orderRequest(orc, obr, tq1 hl7v2.Segment, ids []fhir.Identifier) (*fhir.ServiceRequest, error) {
	sr := &fhir.ServiceRequest{
		ResourceType: "ServiceRequest",
		Identifier:   ids,
		Status:       orderStatus(orc, "revoked", "revoked"),
		Intent:       "order",
		Subject:      *x.patientRef,
		Encounter:    x.encRef,
		Code:         x.cwe(obr.Field(4).Rep(1), ""),
	}
	if sr.Code == nil {
		// An order sent as ORC alone: US Core ServiceRequest.code is
		// 1..1, and the message does not name what was ordered.
		u := fhir.UnknownConcept()
		sr.Code = &u
	}
	if id := x.ei(orc.Field(4), "PGN", "group"); id != nil {
		sr.Requisition = id
	}
	sr.Requester = x.practitioner(orc.Field(12).Rep(1))
	if sr.Requester == nil {
		sr.Requester = x.practitioner(obr.Field(16).Rep(1))
	}
	prio := tq1.Field(9).Text(1)
	if prio == "" {
		prio = obr.Field(27).Text(6)
	}
	if prio == "" {
		// Before v2.5 (no TQ1) the timing is ORC-7, which OBR-27
		// repeats ("identical to ORC-7"); a sender may fill one only.
		prio = orc.Field(7).Text(6)
	}
	sr.Priority = priorities[strings.ToUpper(prio)]
	var err error
	if sr.OccurrenceDateTime, err = x.fieldDateTime(tq1, 7); err != nil {
		return nil, err
	}
	for _, rep := range obr.Field(31).Reps() {
		if cc := x.cwe(rep, ""); cc != nil {
			sr.ReasonCode = append(sr.ReasonCode, *cc)
		}
	}
	return sr, nil
}

// orderDetail writes an order's DG1 as Conditions, its reasonReference,
// and its OBX (with their NTE) as Observations, its supportingInfo (the
// IG's ORM_O01 map). The diagnoses are the order's reasons, not the
// visit's: they are not listed on the Encounter. An Observation's
// category is left out unless its code is a vital sign (an order entry
// answer is no laboratory result); without an OBX-21 identifier its key
// is minted from the order's, so each order keeps its own answers and a
// re-sent order updates them. An encapsulated document (OBX-2 ED) is no
// Observation value in R4 and stays in the Binary.
func (x *conv) orderDetail(g *orderGroup, key fhir.Identifier, sr *fhir.ServiceRequest) error {
	if len(g.dg1) > 0 {
		enc := x.encRes
		x.encRes = nil
		first := len(x.entries)
		for _, dg1 := range g.dg1 {
			if err := x.diagnosis(dg1); err != nil {
				x.encRes = enc
				return err
			}
		}
		x.encRes = enc
		for i := first; i < len(x.entries); i++ {
			// A diagnosis the DG1 deletes is no reason for the order.
			if c, ok := x.entries[i].Resource.(*fhir.Condition); ok && c.VerificationStatus == nil {
				sr.ReasonReference = append(sr.ReasonReference, x.targets[i])
			}
		}
	}
	refs, err := x.orderObservations(g.obx, key)
	sr.SupportingInfo = append(sr.SupportingInfo, refs...)
	return err
}

// orderObservations writes the OBX of an order's detail (with their NTE)
// as Observations keyed by the order key, and gives their references.
func (x *conv) orderObservations(obx []orderObs, key fhir.Identifier) ([]fhir.Reference, error) {
	var refs []fhir.Reference
	for _, ob := range obx {
		if strings.EqualFold(ob.obx.Field(2).Text(1), "ED") {
			continue
		}
		b, err := x.newObservation(ob.obx, nil)
		if err != nil {
			return refs, err
		}
		if !isVitalSign(&b.o.Code) {
			b.o.Category = nil
		}
		if ob.obx.Field(21).Empty() {
			t := &x.slabs.text
			v := t.cat(x.reportStem(key), ".", orStr(firstCode(&b.o.Code), b.o.Code.Text))
			if sub := ob.obx.Field(4).Text(1); sub != "" {
				v = t.cat(v, ".", sub)
			}
			b.keys[0] = fhir.Identifier{System: x.system("obx"), Value: v}
		}
		for _, nte := range ob.notes {
			b.note(nte)
		}
		ref, err := b.finish(x)
		if err != nil {
			return refs, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// immunizationPlaceholder is the order number the CDC immunization guide
// gives an RXA that records no administration (ORC-3 "9999").
const immunizationPlaceholder = "9999"

// unknownAmount says whether RXA-6 is the CDC immunization guide's 999,
// "amount unknown", which is no dose: read as the number an NM is, since
// senders that keep it as a decimal write 999.0.
func unknownAmount(nm string) bool {
	f, err := strconv.ParseFloat(strings.TrimSpace(nm), 64)
	return err == nil && f == 999
}

var immunizationStatus = map[string]string{"CP": "completed", "PA": "completed", "RE": "not-done", "NA": "not-done"}

// vxu converts VXU^V04: one Immunization per RXA, with RXR route and site,
// and each OBX (with its NTE) as an Observation (the IG's VXU_V04 map):
// partOf the Immunization of its order group (the CDC guide's funding
// eligibility, VIS document and dates), or the patient's alone before any
// order (PERSON_OBSERVATION).
func (x *conv) vxu() error {
	if err := x.patientContext(); err != nil {
		return err
	}
	var orc hl7v2.Segment
	var imm *fhir.Immunization
	var immRef fhir.Reference
	var immKey fhir.Identifier
	var obs *obsBuilder
	closeObs := func() error {
		if obs == nil {
			return nil
		}
		_, err := obs.finish(x)
		obs = nil
		return err
	}
	n := 0
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "ORC":
			if err := closeObs(); err != nil {
				return err
			}
			orc = seg
			imm, immRef, immKey = nil, fhir.Reference{}, fhir.Identifier{}
			x.enterOrder(seg)
		case "RXA":
			if err := closeObs(); err != nil {
				return err
			}
			var err error
			if imm, immRef, immKey, err = x.immunization(orc, seg); err != nil {
				return err
			}
			n++
		case "RXR":
			if imm != nil {
				imm.Route = x.cwe(seg.Field(1).Rep(1), v2Table+"0162")
				imm.Site = x.tableCC(seg.Field(2).Rep(1), "0163")
			}
		case "OBX":
			if err := closeObs(); err != nil {
				return err
			}
			var err error
			if obs, err = x.immunizationObservation(seg, immRef, immKey); err != nil {
				return err
			}
			if obs != nil && imm != nil && imm.Status == "entered-in-error" {
				// The OBX of a dose deleted (RXA-21 D) describe a dose
				// never given: they are in error with it, not final.
				obs.o.Status = "entered-in-error"
			}
		case "NTE":
			if obs != nil {
				obs.note(seg)
			}
		}
	}
	if err := closeObs(); err != nil {
		return err
	}
	if n == 0 {
		return &ContentError{Segment: "RXA", Field: "RXA", Reason: "required segment missing"}
	}
	return nil
}

// immunizationObservation opens the Observation of a VXU's OBX, partOf
// the Immunization imm when the OBX is in its order group (imm.Reference
// set). Its category is left out unless its code is a vital sign: an
// eligibility or a VIS date is no laboratory result. Without an OBX-21
// identifier its key is minted from the Immunization's, so two
// administrations' OBX with the same code and sub-id stay apart and a
// re-sent VXU updates the ones it wrote. An encapsulated document (OBX-2
// ED) is no Observation value in R4 and stays in the Binary (nil).
func (x *conv) immunizationObservation(obx hl7v2.Segment, imm fhir.Reference, immKey fhir.Identifier) (*obsBuilder, error) {
	b, err := x.outsideObservation(obx)
	if b == nil || err != nil {
		return nil, err
	}
	if imm.Reference == "" {
		return b, nil
	}
	b.o.PartOf = []fhir.Reference{imm}
	if obx.Field(21).Empty() {
		t := &x.slabs.text
		v := t.cat(x.reportStem(immKey), ".", orStr(firstCode(&b.o.Code), b.o.Code.Text))
		if sub := obx.Field(4).Text(1); sub != "" {
			v = t.cat(v, ".", sub)
		}
		b.keys[0] = fhir.Identifier{System: x.system("obx"), Value: v}
	}
	return b, nil
}

func (x *conv) immunization(orc, rxa hl7v2.Segment) (*fhir.Immunization, fhir.Reference, fhir.Identifier, error) {
	code := x.cwe(rxa.Field(5).Rep(1), "")
	if code == nil {
		return nil, fhir.Reference{}, fhir.Identifier{}, x.badField(rxa, 5, "administered code is empty")
	}
	when, err := x.fieldDateTime(rxa, 3)
	if err != nil {
		return nil, fhir.Reference{}, fhir.Identifier{}, err
	}
	if when == "" {
		return nil, fhir.Reference{}, fhir.Identifier{}, x.badField(rxa, 3, "administration date/time is empty")
	}
	imm := &fhir.Immunization{
		ResourceType:       "Immunization",
		Status:             "completed",
		VaccineCode:        code,
		Patient:            x.patientRef,
		Encounter:          x.encRef,
		OccurrenceDateTime: when,
		LotNumber:          rxa.Field(15).Rep(1).Trimmed(),
	}
	completion := strings.ToUpper(rxa.Field(20).Text(1))
	if s, ok := immunizationStatus[completion]; ok {
		imm.Status = s
	}
	if completion == "PA" {
		// Partially administered: given, but not a full dose, which
		// must not count toward the series (FHIR R4 isSubpotent).
		t := true
		imm.IsSubpotent = &t
		imm.SubpotentReason = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: v2Table + "0322", Code: "PA", Display: "Partially Administered"}}}}
	}
	action := strings.ToUpper(rxa.Field(21).Text(1))
	if action == "D" {
		imm.Status = "entered-in-error"
	}
	exp, ok := x.date(rxa.Field(16).Rep(1).Text(1))
	if !ok {
		return nil, fhir.Reference{}, fhir.Identifier{}, x.badField(rxa, 16, "invalid substance expiration date")
	}
	imm.ExpirationDate = exp
	for rep := range rxa.Field(19).RepsSeq() {
		if cc := x.cwe(rep, ""); cc != nil {
			imm.ReasonCode = append(imm.ReasonCode, *cc)
		}
	}
	// The IG takes RXA-22 as the record's time only when RXA-21 adds it:
	// on an update it is when the record changed.
	if action == "A" {
		if imm.Recorded, err = x.fieldDateTime(rxa, 22); err != nil {
			return nil, fhir.Reference{}, fhir.Identifier{}, err
		}
	}
	if amt := rxa.Field(6).Text(1); amt != "" && !unknownAmount(amt) {
		imm.DoseQuantity = x.quantity(amt, rxa.Field(7).Rep(1))
	}
	switch rxa.Field(9).Rep(1).Text(1) {
	case "00":
		t := true
		imm.PrimarySource = &t
	case "01", "02", "03", "04", "05", "06", "07", "08":
		f := false
		imm.PrimarySource = &f
		// Which source the dose is reported from (another provider, a
		// parent's record or recall, a school): FHIR R4 reportOrigin,
		// where the CDC guide puts RXA-9.
		imm.ReportOrigin = x.cwe(rxa.Field(9).Rep(1), "")
		// A dose reported from another source (given elsewhere, often
		// years before) was not "performed as part of" the visit the
		// VXU was sent from (FHIR R4 Immunization.encounter).
		imm.Encounter = nil
	}
	if imm.PrimarySource == nil {
		// RXA-9 empty or a local code: US Core wants primarySource all
		// the same, so it says the source did not tell.
		imm.PrimarySourceElement = fhir.AbsentPrimitive("unknown")
	}
	if m := rxa.Field(17).Rep(1); !m.Empty() {
		// RXA-17 is the MVX code (table 0227) and its name: the code,
		// which a registry matches on, is the reference's identifier. A
		// first component with no system named may be a name written
		// there, and stays the display it was.
		imm.Manufacturer = &fhir.Reference{Display: orStr(m.Text(2), m.Text(1))}
		if code, sys := m.Text(1), m.Text(3); code != "" && sys != "" {
			imm.Manufacturer.Display = m.Text(2)
			imm.Manufacturer.Identifier = &fhir.Identifier{System: x.codeSystem(sys), Value: code}
		}
	}
	for _, rep := range rxa.Field(10).Reps() {
		if ref := x.practitioner(rep); ref != nil {
			imm.Performer = append(imm.Performer, fhir.ImmunizationPerformer{
				Function: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: v2Table + "0443", Code: "AP", Display: "Administering Provider"}}},
				Actor:    ref,
			})
		}
	}
	// ORC-12 is who ordered the dose, which the IG's ORC[Immunization]
	// map makes a performer too, as the Ordering Provider.
	for _, rep := range orc.Field(12).Reps() {
		if ref := x.practitioner(rep); ref != nil {
			imm.Performer = append(imm.Performer, fhir.ImmunizationPerformer{
				Function: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: v2Table + "0443", Code: "OP", Display: "Ordering Provider"}}},
				Actor:    ref,
			})
		}
	}
	if imm.Status == "not-done" {
		imm.StatusReason = x.cwe(rxa.Field(18).Rep(1), "")
	}
	ids, key := x.orderIDs(orc, hl7v2.Segment{})
	// The CDC immunization guide has ORC-3 (and a placer that copies it)
	// carry 9999 for an RXA that records no administration (a refusal,
	// "no vaccine administered"): a placeholder shared by every patient,
	// not an order number, so it names no Immunization.
	kept := ids[:0]
	for _, id := range ids {
		if id.Value != immunizationPlaceholder {
			kept = append(kept, id)
		}
	}
	ids = kept
	if key.Value == immunizationPlaceholder {
		key = fhir.Identifier{}
		if len(ids) > 0 {
			key = ids[0]
		}
	}
	imm.Identifier = ids
	if key.Value == "" {
		key = x.scopedKey("immunization", orStr(firstCode(code), code.Text), rxa.Field(3).Text(1))
		imm.Identifier = append(imm.Identifier, key)
	}
	ref := x.add("Immunization", key, imm)
	x.focus = append(x.focus, ref)
	return imm, ref, key, nil
}

// pharmacyOrders converts RDE^O11: one MedicationRequest per ORC with its
// RXE (or RXO), RXR route and TQ1 timing.
func (x *conv) pharmacyOrders() error {
	if err := x.patientContext(); err != nil {
		return err
	}
	type rxGroup struct {
		orc, rxo, rxe, rxr, tq1 hl7v2.Segment
		notes                   []fhir.Annotation
		// rxr and tq1 are the RXE's (RDE_O11 TIMING_ENCODED and its
		// RXR) once it came: those before it are the order as placed
		// (TIMING, ORDER_DETAIL), which the pharmacy may have changed.
		encodedRXR, encodedTQ1 bool
		// observed: an OBX came (RDE_O11's OBSERVATION group), whose
		// NTE are its own, not the prescription's.
		observed bool
		obx      []orderObs
	}
	var groups []*rxGroup
	var cur *rxGroup
	for _, seg := range x.m.Segments() {
		if seg.Name == "ORC" {
			cur = &rxGroup{orc: seg}
			groups = append(groups, cur)
			continue
		}
		if cur == nil {
			if seg.Name == "AL1" {
				// The patient's allergies (RDE_O11's PATIENT group),
				// which the drug is checked against: AllergyIntolerances
				// keyed as an ADT's or an order's are.
				if err := x.allergy(seg); err != nil {
					return err
				}
			}
			continue
		}
		switch seg.Name {
		case "RXO":
			cur.rxo = seg
		case "RXE":
			cur.rxe = seg
		case "RXR":
			if cur.rxr.Name == "" || (cur.rxe.Name != "" && !cur.encodedRXR) {
				cur.rxr, cur.encodedRXR = seg, cur.rxe.Name != ""
			}
		case "TQ1":
			if cur.tq1.Name == "" || (cur.rxe.Name != "" && !cur.encodedTQ1) {
				cur.tq1, cur.encodedTQ1 = seg, cur.rxe.Name != ""
			}
		case "OBX":
			cur.observed = true
			cur.obx = append(cur.obx, orderObs{obx: seg})
		case "NTE":
			if cur.observed {
				o := &cur.obx[len(cur.obx)-1]
				o.notes = append(o.notes, seg)
			} else if t := nteText(seg); t != "" {
				cur.notes = append(cur.notes, fhir.Annotation{Text: t})
			}
		}
	}
	if len(groups) == 0 {
		return &ContentError{Segment: "ORC", Field: "ORC", Reason: "required segment missing"}
	}
	for _, g := range groups {
		x.enterOrder(g.orc)
		med := x.cwe(g.rxe.Field(2).Rep(1), "")
		if med == nil {
			med = x.cwe(g.rxo.Field(1).Rep(1), "")
		}
		if med == nil && g.rxe.Name == "" {
			// RDE_O11 requires the RXE (only an RXO naming the drug
			// stands in for it): ORC-2 is the order number, not a code.
			return &ContentError{Segment: "RXE", Field: "RXE", Reason: "required segment missing after the ORC of segment " + itoa(g.orc.Pos())}
		}
		if med == nil {
			return x.badField(g.rxe, 2, "give code is empty")
		}
		ids, key := x.orderIDs(g.orc, hl7v2.Segment{})
		if key.Value == "" {
			return x.badField(g.orc, 2, "order has neither placer nor filler number")
		}
		mr := &fhir.MedicationRequest{
			ResourceType:              "MedicationRequest",
			Identifier:                ids,
			Status:                    orderStatus(g.orc, "cancelled", "stopped"),
			Intent:                    "order",
			MedicationCodeableConcept: med,
			Subject:                   x.patientRef,
			Encounter:                 x.encRef,
			Note:                      g.notes,
			Requester:                 x.practitioner(g.orc.Field(12).Rep(1)),
		}
		// ORC-9 is when the prescription was written only in a new
		// order: a change, discontinuation or refill request (XO, DC,
		// RDE^O25's RF) is written whole, and its own time would date
		// the prescription at the change, as in an ORM's order.
		if strings.EqualFold(g.orc.Field(1).Text(1), "NW") {
			var err error
			if mr.AuthoredOn, err = x.fieldDateTime(g.orc, 9); err != nil {
				return err
			}
		}
		d := fhir.Dosage{}
		var texts []string
		for _, rep := range g.rxe.Field(7).Reps() {
			if t := orStr(rep.Text(2), rep.Text(9), rep.Text(1)); t != "" {
				texts = append(texts, t)
			}
		}
		for _, rep := range g.rxe.Field(21).Reps() {
			if t := orStr(rep.Text(2), rep.Text(1)); t != "" {
				texts = append(texts, t)
			}
		}
		d.Text = strings.Join(texts, "; ")
		// RXE-3 is the dose, or a variable dose's minimum, whose maximum
		// is RXE-4 (1 to 2 tablets): a range then, as FHIR has it.
		units := unitsOf(g.rxe.Field(5).Rep(1))
		low := x.quantityIn(g.rxe.Field(3).Text(1), units)
		high := x.quantityIn(g.rxe.Field(4).Text(1), units)
		if low != nil && high != nil && decimalAbove(low.Value, high.Value) {
			// rng-2: no range; the dose is the order's instruction, and
			// which amount is wrong the message does not say.
			return x.badField(g.rxe, 4, "invalid maximum dose: below the minimum (RXE-3)")
		}
		if high != nil && (low == nil || low.Value != high.Value) {
			d.DoseAndRate = []fhir.DosageDoseAndRate{{DoseRange: &fhir.Range{Low: low, High: high}}}
		} else if low != nil {
			d.DoseAndRate = []fhir.DosageDoseAndRate{{DoseQuantity: low}}
		}
		d.Route = x.cwe(g.rxr.Field(1).Rep(1), v2Table+"0162")
		d.Site = x.tableCC(g.rxr.Field(2).Rep(1), "0163")
		var err error
		if g.tq1.Name != "" {
			d.Timing, err = x.tq1Timing(g.tq1)
		} else if tq := g.rxe.Field(1).Rep(1); !tq.Empty() {
			// Before v2.5 there is no TQ1: RXE-1 is the timing.
			d.Timing, err = x.tqTiming(g.rxe, 1, tq)
		} else {
			d.Timing, err = x.tqTiming(g.orc, 7, g.orc.Field(7).Rep(1))
		}
		if err != nil {
			return err
		}
		if d.Text != "" || d.DoseAndRate != nil || d.Route != nil || d.Site != nil || d.Timing != nil {
			mr.DosageInstruction = []fhir.Dosage{d}
		}
		disp := &fhir.MedicationRequestSupply{Quantity: x.quantity(g.rxe.Field(10).Text(1), g.rxe.Field(11).Rep(1))}
		if n, err := strconv.Atoi(g.rxe.Field(12).Text(1)); err == nil && n >= 0 {
			disp.NumberOfRepeatsAllowed = &n
		}
		if disp.Quantity != nil || disp.NumberOfRepeatsAllowed != nil {
			mr.DispenseRequest = disp
		}
		// The OBX the dose rests on (a weight, a creatinine), as an
		// ORM's order detail OBX are its supportingInfo.
		if mr.SupportingInformation, err = x.orderObservations(g.obx, key); err != nil {
			return err
		}
		x.focus = append(x.focus, x.add("MedicationRequest", key, mr))
	}
	return nil
}

// tq1Timing is the dosage timing TQ1 gives (the IG's TQ1 to
// MedicationRequest map): TQ1-3's repeat pattern its code, and its
// bounds TQ1-7 to TQ1-8 (start and end), else TQ1-6 (service duration);
// FHIR has one bounds[x], so a start with a duration and no end is the
// period from the start to its end. nil when TQ1 says none of these.
func (x *conv) tq1Timing(tq1 hl7v2.Segment) (*fhir.Timing, error) {
	var t fhir.Timing
	t.Code = x.repeatPattern(tq1.Field(3).Rep(1))
	start, err := x.fieldDateTime(tq1, 7)
	if err != nil {
		return nil, err
	}
	end, err := x.fieldDateTime(tq1, 8)
	if err != nil {
		return nil, err
	}
	// An end before the start breaks per-1 in the boundsPeriod; how long
	// the drug is taken is the order's instruction, and which time is
	// wrong the message does not say: refused, to be corrected.
	if endsBefore(start, end) {
		return nil, x.badField(tq1, 8, "invalid end date/time: before the start date/time (TQ1-7)")
	}
	cq := tq1.Field(6).Rep(1)
	t.Repeat = timingBounds(start, end, cq.Text(1), cq.Comp(2).Sub(1).Trimmed())
	if t.Code == nil && t.Repeat == nil {
		return nil, nil
	}
	return &t, nil
}

// tqTiming is the dosage timing of a TQ (RXE-1, else ORC-7: the
// quantity/timing of v2.3 and v2.4, which have no TQ1), field n of seg,
// as the IG's TQ to MedicationRequest map has it: TQ.2's interval (RI.1,
// a repeat pattern of table 0335: Q6H, BID) its code, as TQ1-3 is, TQ.4
// and TQ.5 (start and end) its boundsPeriod, else TQ.3's duration (D10:
// ten days) its boundsDuration, or the times it is given (X10) its count.
func (x *conv) tqTiming(seg hl7v2.Segment, n int, tq hl7v2.Value) (*fhir.Timing, error) {
	var t fhir.Timing
	if code := tq.Comp(2).Sub(1).Trimmed(); code != "" {
		t.Code = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: tableSystems["0335"], Code: code}}}
	}
	start, ok := x.dateTime(tq.Comp(4).Sub(1).Trimmed())
	if !ok {
		return nil, x.badField(seg, n, "invalid start date/time (TQ.4)")
	}
	end, ok := x.dateTime(tq.Comp(5).Sub(1).Trimmed())
	if !ok {
		return nil, x.badField(seg, n, "invalid end date/time (TQ.5)")
	}
	if endsBefore(start, end) { // per-1, as TQ1-8 is
		return nil, x.badField(seg, n, "invalid end date/time (TQ.5): before the start date/time (TQ.4)")
	}
	var amount, units string
	count := 0
	if d := strings.ToUpper(tq.Comp(3).Trimmed()); len(d) > 1 {
		amount, units = d[1:], tqDurationUnits[d[0]]
		if c, err := strconv.Atoi(amount); err == nil && c > 0 && d[0] == 'X' {
			count = c
		}
	}
	t.Repeat = timingBounds(start, end, amount, units)
	if count > 0 {
		if t.Repeat == nil {
			t.Repeat = &fhir.TimingRepeat{}
		}
		t.Repeat.Count = count
	}
	if t.Code == nil && t.Repeat == nil {
		return nil, nil
	}
	return &t, nil
}

// tqDurationUnits are the units of a TQ.3 duration by its letter (S10:
// ten seconds; M minutes, H hours, D days, W weeks, L months), as
// timingBounds reads them.
var tqDurationUnits = map[byte]string{'S': "s", 'M': "min", 'H': "h", 'D': "d", 'W': "wk", 'L': "mo"}

// timingBounds is the repeat of a timing that starts at start and ends
// at end (FHIR dateTimes, "" when not given) or lasts amount units (a
// duration, when there is no end): a boundsPeriod with a start, else a
// boundsDuration, whose unit must be a UCUM unit of time (drt-1), so a
// duration in other units, or none, is left out. nil when it has none.
func timingBounds(start, end, amount, units string) *fhir.TimingRepeat {
	if end == "" && len(start) == len("2006-01-02") {
		// A start date: its end is a date too, after whole days.
		if e := endAfter(start+"T00:00:00Z", amount, units); strings.HasSuffix(e, "T00:00:00+00:00") {
			end = e[:len("2006-01-02")]
		}
	} else if end == "" && start != "" {
		end = endAfter(start, amount, units)
	}
	if start != "" || end != "" {
		return &fhir.TimingRepeat{BoundsPeriod: &fhir.Period{Start: start, End: end}}
	}
	code := ucumTimeUnits[strings.ToUpper(strings.TrimSpace(units))]
	n, ok := fhirDecimal(strings.TrimSpace(amount))
	if code == "" || !ok || strings.HasPrefix(n, "-") {
		return nil
	}
	return &fhir.TimingRepeat{BoundsDuration: &fhir.Quantity{Value: json.Number(n), Unit: code, System: "http://unitsofmeasure.org", Code: code}}
}

// ucumTimeUnits are the UCUM codes of the units of time (those a FHIR
// Duration takes) for the spellings of a duration's units senders write
// (TQ1-6's CQ units, ISO+ and ANSI codes, UCUM's own, or words).
var ucumTimeUnits = map[string]string{
	"S": "s", "SEC": "s", "SECS": "s", "SECOND": "s", "SECONDS": "s",
	"MIN": "min", "MINS": "min", "MINUTE": "min", "MINUTES": "min",
	"H": "h", "HR": "h", "HRS": "h", "HOUR": "h", "HOURS": "h",
	"D": "d", "DAY": "d", "DAYS": "d",
	"WK": "wk", "WEEK": "wk", "WEEKS": "wk",
	"MO": "mo", "MONTH": "mo", "MONTHS": "mo",
	"A": "a", "YR": "a", "YEAR": "a", "YEARS": "a",
}

// repeatPattern is the code of TQ1-3 (RPT): its first component, a CWE of
// table 0335 whose parts are subcomponents ("Q6H&Every 6 hours&HL70335");
// the RPT's other components (period, event and its offset) are no part
// of the code. Senders that write the code as a CWE of components
// ("BID^Twice a day^HL70335") are read so, as they mean it.
func (x *conv) repeatPattern(rpt hl7v2.Value) *fhir.CodeableConcept {
	c := rpt.Comp(1)
	if c.Sub(2).Empty() && c.Sub(3).Empty() {
		return x.tableCC(rpt, "0335")
	}
	code := c.Sub(1).Trimmed()
	if code == "" {
		return nil
	}
	sys := tableSystems["0335"]
	if name := c.Sub(3).Trimmed(); name != "" {
		sys = x.codeSystem(name)
	}
	return &fhir.CodeableConcept{
		Coding: []fhir.Coding{{System: sys, Code: code, Display: c.Sub(2).Trimmed(), Version: c.Sub(7).Trimmed()}},
		Text:   c.Sub(9).Trimmed(),
	}
}

// durationUnits are the duration units (SCH-10, AIS-8: ISO+ or ANSI
// codes, or words) endAfter reads, by their upper-case spelling.
var durationUnits = map[string]time.Duration{
	"S": time.Second, "SEC": time.Second, "SECS": time.Second, "SECOND": time.Second, "SECONDS": time.Second,
	"MIN": time.Minute, "MINS": time.Minute, "MINUTE": time.Minute, "MINUTES": time.Minute,
	"H": time.Hour, "HR": time.Hour, "HRS": time.Hour, "HOUR": time.Hour, "HOURS": time.Hour,
	"D": 24 * time.Hour, "DAY": 24 * time.Hour, "DAYS": 24 * time.Hour,
}

// endAfter is start (a FHIR instant) plus a duration of amount units,
// written in start's offset; "" when either cannot be read or the
// duration is not positive.
func endAfter(start, amount, units string) string {
	unit, ok := durationUnits[strings.ToUpper(strings.TrimSpace(units))]
	if !ok {
		return ""
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(amount), 64)
	if err != nil || !(n > 0) || n*float64(unit) > float64(100*365*24*time.Hour) {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return ""
	}
	return t.Add(time.Duration(n * float64(unit))).Format("2006-01-02T15:04:05.999999999-07:00")
}

func orOther(a, b hl7v2.Segment) hl7v2.Segment {
	if a.Name != "" {
		return a
	}
	return b
}

var appointmentStatus = map[string]string{
	"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled",
	"S16": "cancelled", "S17": "entered-in-error", "S26": "noshow",
}

// triggerStatus marks the events whose meaning fixes the status: a
// cancelled, discontinued, deleted or missed appointment stays so whatever filler
// status (SCH-25) the sender copied from the booking: S15 is the
// "notification of appointment cancellation" (v2.5.1 §10.4.4).
var triggerStatus = map[string]bool{"S15": true, "S16": true, "S17": true, "S26": true}

var fillerStatus = map[string]string{
	"BOOKED": "booked", "CANCELLED": "cancelled", "COMPLETE": "fulfilled", "NOSHOW": "noshow",
	"PENDING": "pending", "WAITLIST": "waitlist", "DELETED": "entered-in-error", "STARTED": "arrived",
}

// resourceStart is the start date/time field of each service and
// resource segment; its duration and units are the third and fourth
// fields after it (AIS-4, 7, 8; AIG-8, 11, 12; AIL-6, 9, 10; AIP-6, 9, 10).
var resourceStart = map[string]int{"AIS": 4, "AIG": 8, "AIL": 6, "AIP": 6}

// resourceRemoved reports whether seg is an AIS, AIG, AIL or AIP whose
// segment action code (field 2, table 0206) is D: a modification (S14)
// taking that service or resource off the appointment. The Appointment
// is written whole, so it is left out of it.
func resourceRemoved(seg hl7v2.Segment) bool {
	switch seg.Name {
	case "AIS", "AIG", "AIL", "AIP":
		return strings.EqualFold(seg.Field(2).Text(1), "D")
	}
	return false
}

// schedule converts SIU^S12-S17 and S26 to an Appointment: SCH identifiers, reason
// and status; start from TQ1, SCH-11 or the first timed AIS, AIG, AIL or AIP; AIP, AIL and AIG as
// participants next to the patient. The patient's OBX and DG1 are
// Observations and Conditions, as an ADT's are.
func (x *conv) schedule() error {
	sch, ok := x.m.Segment("SCH")
	if !ok {
		return &ContentError{Segment: "SCH", Field: "SCH", Reason: "required segment missing"}
	}
	// SIU_S12's PATIENT group repeats (a group appointment), but the
	// Appointment and the PATIENT group's DG1 and OBX are written for
	// the first PID: a second patient's would land in the first
	// patient's record, so such a message is refused rather than
	// written for the wrong patient.
	if pids := x.m.All("PID"); len(pids) > 1 {
		return &ContentError{Segment: "PID", Pos: pids[1].Pos(), Field: "PID", Reason: "a second patient group (group appointment) is not converted"}
	}
	if err := x.patientContext(); err != nil {
		return err
	}
	a := &fhir.Appointment{ResourceType: "Appointment", Status: appointmentStatus[x.typ.Trigger]}
	if s := fillerStatus[strings.ToUpper(sch.Field(25).Text(1))]; s != "" && !triggerStatus[x.typ.Trigger] {
		a.Status = s
	}
	var key fhir.Identifier
	if id := x.ei(sch.Field(2), "FILL", "appointment"); id != nil {
		a.Identifier = append(a.Identifier, *id)
		key = *id
	}
	// The placer and the filler number by counters of their own, so one
	// appointment's placer number is in time another's filler number:
	// beside the filler key the placer's has a system of its own (as an
	// order's placer and filler numbers have), or a conditional write by
	// the filler key finds the other appointment. Keyed by the placer
	// number alone, the appointment keeps the system it always had, and
	// with it its id.
	placerKind := "appointment"
	if key.Value != "" {
		placerKind = "appointment-placer"
	}
	if id := x.ei(sch.Field(1), "PLAC", placerKind); id != nil {
		a.Identifier = append(a.Identifier, *id)
		if key.Value == "" {
			key = *id
		}
	}
	if key.Value == "" {
		return x.badField(sch, 1, "appointment has neither placer nor filler id")
	}
	if r := x.cwe(sch.Field(7).Rep(1), ""); r != nil {
		a.ReasonCode = []fhir.CodeableConcept{*r}
	}
	a.AppointmentType = x.tableCC(sch.Field(8).Rep(1), "0276")
	if a.Status == "cancelled" {
		a.CancelationReason = x.cwe(sch.Field(6).Rep(1), "")
	}
	// Start and end: TQ1-7/8 (v2.5+), else SCH-11.4/.5, else AIS/AIG/AIL/AIP.
	start, end := "", ""
	var err error
	if tq1, ok := x.m.Segment("TQ1"); ok {
		if start, err = x.instant(tq1, 7); err != nil {
			return err
		}
		if end, err = x.instant(tq1, 8); err != nil {
			return err
		}
	}
	if start == "" {
		if d, ok := parseDTM(sch.Field(11).Text(4)); ok {
			start = d.render(x.loc)
		}
		if d, ok := parseDTM(sch.Field(11).Text(5)); ok {
			end = d.render(x.loc)
		}
	}
	// Else the first service or resource that has a start: AIS-4, and
	// AIG-8, AIL-6 and AIP-6, each with its own duration after it, so a
	// booking timed only on its room or person is not refused.
	var startAIS hl7v2.Segment
	var durField int
	if start == "" {
		for _, seg := range x.m.Segments() {
			f, ok := resourceStart[seg.Name]
			if !ok || resourceRemoved(seg) {
				continue
			}
			if start, err = x.instant(seg, f); err != nil {
				return err
			}
			if start != "" {
				startAIS, durField = seg, f+3
				break
			}
		}
	}
	// FHIR R4 has an Appointment's start and end together or neither
	// (app-2), and both on one that is not proposed, cancelled or
	// waitlisted (app-3): an end not sent is its start plus the
	// appointment's duration (SCH-9/10), else the first service's
	// (AIS-7/8, the IG's AIS map: start + AIS-7).
	if start != "" && end == "" {
		end = endAfter(start, sch.Field(9).Text(1), sch.Field(10).Text(1))
		if end == "" && startAIS.Name != "" {
			end = endAfter(start, startAIS.Field(durField).Text(1), startAIS.Field(durField+1).Text(1))
		}
	}
	timeless := a.Status == "cancelled" || a.Status == "waitlist" || a.Status == "proposed"
	if start == "" && !timeless {
		return x.badField(sch, 11, "appointment has no start time")
	}
	if (start == "") != (end == "") {
		if !timeless {
			return x.badField(sch, 11, "appointment has a start time but no end time or duration (TQ1-8, SCH-11.5, SCH-9/10 or AIS-7/8)")
		}
		start, end = "", "" // one without the other is invalid (app-2); the message keeps them
	}
	// A booking that ends before it begins: which time is wrong the
	// message does not say, and they are the booking's own, so it is
	// refused as one without an end is; one FHIR needs no times for
	// (app-3) goes without them.
	if endsBefore(start, end) {
		if !timeless {
			if tq1, ok := x.m.Segment("TQ1"); ok && tq1.Field(7).Text(1) != "" {
				return x.badField(tq1, 8, "invalid appointment end: before its start (TQ1-7)")
			}
			return x.badField(sch, 11, "invalid appointment end (SCH-11.5): before its start (SCH-11.4)")
		}
		start, end = "", ""
	}
	a.Start, a.End = start, end
	if strings.EqualFold(sch.Field(10).Text(1), "min") {
		if n, err := strconv.Atoi(sch.Field(9).Text(1)); err == nil && n > 0 {
			a.MinutesDuration = n
		}
	}
	// The NTE after the SCH (and its TQ1) and those of each SERVICE
	// group (after an AIS) are the comment, concatenated, as the IG's
	// SIU_S12 map has it; a device's, room's or person's are not.
	var notes []string
	noted := false
	for _, seg := range x.m.Segments() {
		if resourceRemoved(seg) {
			noted = false
			continue // nor are its NTE the comment
		}
		switch seg.Name {
		case "SCH":
			noted = true
		case "NTE":
			if noted {
				if t := nteText(seg); t != "" {
					notes = append(notes, t)
				}
			}
		case "AIS":
			noted = true
			if st := x.cwe(seg.Field(3).Rep(1), ""); st != nil {
				a.ServiceType = append(a.ServiceType, *st)
			}
		case "AIP":
			noted = false
			if ref := x.practitioner(seg.Field(3).Rep(1)); ref != nil {
				p := fhir.AppointmentParticipant{Actor: ref, Status: "accepted"}
				if role := x.cwe(seg.Field(4).Rep(1), ""); role != nil {
					p.Type = []fhir.CodeableConcept{*role}
				}
				a.Participant = append(a.Participant, p)
			}
		case "AIL":
			noted = false
			if loc := placeText(&x.slabs.text, seg.Field(3)); loc != "" {
				a.Participant = append(a.Participant, fhir.AppointmentParticipant{Actor: &fhir.Reference{Type: "Location", Display: loc}, Status: "accepted"})
			}
		case "AIG":
			noted = false
			if r := seg.Field(3).Rep(1); !r.Empty() {
				a.Participant = append(a.Participant, fhir.AppointmentParticipant{Actor: &fhir.Reference{Type: "Device", Display: orStr(r.Text(2), r.Text(1))}, Status: "accepted"})
			}
		default:
			if seg.Name != "TQ1" {
				noted = false
			}
		}
	}
	a.Comment = strings.Join(notes, "\n")
	a.Participant = append([]fhir.AppointmentParticipant{{Actor: x.patientRef, Status: "accepted"}}, a.Participant...)
	// The PATIENT group's OBX and DG1 (SIU_S12: PID, PD1, PV1, PV2, OBX,
	// DG1) are the patient's, as an ADT's are: the IG's SIU_S12 map
	// writes them as Observations and Conditions.
	if err := x.clinicalSegments(); err != nil {
		return err
	}
	x.focus = append(x.focus, x.add("Appointment", key, a))
	return nil
}

// documentTypes maps TXA-2 (table 0270) to LOINC document codes US Core
// accepts. Table 0270 has PN for a procedure note and PR for a progress
// note; CD (cardiodiagnostics) has no document code of its own and is
// UNK beside its 0270 code.
var documentTypes = map[string]fhir.Coding{
	"DS": {System: "http://loinc.org", Code: "18842-5", Display: "Discharge summary"},
	"CN": {System: "http://loinc.org", Code: "11488-4", Display: "Consult note"},
	"HP": {System: "http://loinc.org", Code: "34117-2", Display: "History and physical note"},
	"PN": {System: "http://loinc.org", Code: "28570-0", Display: "Procedure note"},
	"PR": {System: "http://loinc.org", Code: "11506-3", Display: "Progress note"},
	"OP": {System: "http://loinc.org", Code: "11504-8", Display: "Surgical operation note"},
	"DI": {System: "http://loinc.org", Code: "18748-4", Display: "Diagnostic imaging study"},
	"TS": {System: "http://loinc.org", Code: "18761-7", Display: "Transfer summary note"},
	"PH": {System: "http://loinc.org", Code: "34117-2", Display: "History and physical note"},
	"SP": {System: "http://loinc.org", Code: "11526-1", Display: "Pathology study"},
}

var docStatus = map[string]string{
	"AU": "final", "LA": "final", "DO": "final", "DI": "preliminary", "IN": "preliminary",
	"IP": "preliminary", "PA": "preliminary",
}

// document converts MDM^T02/T04/T06/T08/T10 to a DocumentReference whose
// content is the OBX text (text/plain), any ED attachments and any RP
// pointers by URL, keyed by TXA-12, so that a status change (T04) or an
// edit (T08) of a document rewrites the DocumentReference the original
// wrote. The
// notification-only events T01/T05/T07/T09 are answered with a
// ContentError naming TXA, unless the sender added OBX content anyway.
func (x *conv) document() error {
	txa, ok := x.m.Segment("TXA")
	if !ok {
		return &ContentError{Segment: "TXA", Field: "TXA", Reason: "required segment missing"}
	}
	if err := x.patientContext(); err != nil {
		return err
	}
	dr := &fhir.DocumentReference{
		ResourceType: "DocumentReference",
		Status:       "current",
		DocStatus:    docStatus[strings.ToUpper(txa.Field(17).Text(1))],
		Subject:      x.patientRef,
		Category: []fhir.CodeableConcept{{Coding: []fhir.Coding{{
			System: "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", Code: "clinical-note", Display: "Clinical Note"}}}},
	}
	switch strings.ToUpper(txa.Field(19).Text(1)) {
	case "CA":
		dr.Status = "entered-in-error"
	case "OB":
		dr.Status = "superseded"
	}
	t2 := strings.ToUpper(txa.Field(2).Text(1))
	dr.Type = x.documentType(txa.Field(2).Rep(1), t2)
	var key fhir.Identifier
	if id := x.ei(txa.Field(12), "", "document"); id != nil {
		dr.MasterIdentifier = id
		key = *id
	}
	if id := x.ei(txa.Field(16), "", "document-file"); id != nil {
		dr.Identifier = append(dr.Identifier, *id)
		if key.Value == "" {
			key = *id
		}
	}
	if key.Value == "" {
		key = x.scopedKey("document", t2, txa.Field(4).Text(1), x.m.ControlID())
		dr.Identifier = append(dr.Identifier, key)
	}
	date := ""
	var err error
	for _, f := range []int{6, 4} {
		if date, err = x.instant(txa, f); err != nil {
			return err
		}
		if date != "" {
			break
		}
	}
	dr.Date = date
	for _, f := range []int{5, 9} {
		for _, rep := range txa.Field(f).Reps() {
			if ref := x.practitioner(rep); ref != nil {
				dr.Author = append(dr.Author, *ref)
			}
		}
	}
	dr.Authenticator = x.practitioner(txa.Field(22).Rep(1))
	if parent := x.ei(txa.Field(13), "", "document"); parent != nil && (parent.System != key.System || parent.Value != key.Value) {
		// An addendum (T05/T06) appends to its parent, which stays
		// current, and so does an original document (T01/T02) that
		// names one: HL7 v2 chapter 9 has TXA-13 assemble a group of
		// related documents (a transcription and its addendum), and
		// only a replacement retires the parent, which an original
		// does not announce. A replacement (T09/T10) supersedes it:
		// the parent's DocumentReference is marked superseded after
		// this transaction (ChangeBatch). A status change (T03/T04) or an edit
		// (T07/T08) is of the document TXA-12 names itself, rewritten
		// in place here: HL7 v2 asks TXA-13 of neither, and one sent
		// there names the parent that document belongs to, which this
		// event neither replaces nor appends to. A document naming
		// itself as its parent relates to nothing.
		//
		// The registry of replaced documents (Converter.Replaced)
		// remembers the relation a replacement or an addendum was
		// accepted with, so that an edit or a status change with the
		// document, whose PUT replaces the whole resource, keeps the
		// relatesTo its document was written with when TXA-13 names the
		// same parent again; it never makes up one the registry does not
		// know.
		rel := ""
		switch x.typ.Trigger {
		case "T01", "T02", "T05", "T06":
			rel = "appends"
			x.replaces = append(x.replaces, x.registryKey("appends", key, *parent))
		case "T09", "T10":
			rel = "replaces"
			if !x.withdrawn(*parent) {
				// A parent withdrawn by a cancel (T11) stays
				// entered-in-error: superseded would make it visible
				// again as history of the record it was withdrawn
				// from. A cancel wins over a replacement, as it does
				// for the parent arriving late (below) or retried.
				x.changeDocument(*parent, "superseded", "")
			}
			x.replaces = append(x.replaces, x.retiringKeys("replaced", *parent)...)
			x.replaces = append(x.replaces, x.registryKey("replaces", key, *parent))
		case "T03", "T04", "T07", "T08":
			switch {
			case x.knownKey("replaces", key, *parent):
				rel = "replaces"
			case x.knownKey("appends", key, *parent):
				rel = "appends"
			}
		}
		if rel != "" {
			dr.RelatesTo = []fhir.DocumentReferenceRelates{{Code: rel, Target: &fhir.Reference{Type: "DocumentReference", Identifier: parent}}}
		}
	}
	// A document written deleted or obsolete (TXA-19 CA, OB) is
	// remembered as a cancel (T11) or a replacement would be, so that an
	// earlier version of it arriving or retried later (its bundle
	// dead-lettered) is not filed current again over this status.
	x.replaces = append(x.replaces, x.retiredKeys(dr.Status, key)...)
	if dr.Status != "entered-in-error" && x.cancelledHere(key) {
		// A cancel (T11) of this document was accepted first: it was
		// withdrawn from this patient's record, and the original or an
		// edit arriving after it (an error queue replayed) does not file
		// it there again.
		dr.Status = "entered-in-error"
	}
	if dr.Status == "current" && x.knownKey("replaced", key) {
		// A replacement of this document was accepted first (its T10
		// before this T02, or this is an edit of the replaced
		// original): it is history, not current (FHIR R4
		// DocumentReference.status superseded).
		dr.Status = "superseded"
	}
	if dr.Status == "current" {
		x.versions = append(x.versions, x.registryKey("replaced", key))
		if x.known(anyCancelKey(key)) {
			// Filed current after a cancel for another patient (the
			// document moved from the wrong record to the right one):
			// remembered, so that the cancel does not follow it here
			// when that other record is merged into this one.
			x.replaces = append(x.replaces, x.registryKey("refiled", key))
		}
	}
	if dr.Status != "entered-in-error" {
		// Written superseded too: a cancel recorded after this message
		// (its bundle dead-lettered, retried once the cancel was
		// delivered) wins over a replacement at retry as it does here.
		x.cancels = append(x.cancels, x.registryKey("cancelled", key))
	}
	if x.encRef != nil {
		dr.Context = &fhir.DocumentReferenceContext{Encounter: []fhir.Reference{*x.encRef}}
	}
	var text []string
	hasText := false
	cdaConf := -1 // the CDA document's confidentiality (cdaConfidentiality)
	for _, obx := range x.m.All("OBX") {
		switch strings.ToUpper(obx.Field(2).Text(1)) {
		case "TX", "FT", "ST":
			// Each OBX is a line of the document, and one with OBX-5
			// empty a blank line between its paragraphs.
			reps := obx.Field(5).Reps()
			if len(reps) == 0 {
				text = append(text, "")
			}
			for _, rep := range reps {
				line := rep.String()
				text = append(text, line)
				hasText = hasText || line != ""
			}
		case "ED":
			if _, piece := x.edPiece(obx); piece {
				continue // joined to the document it continues
			}
			atts, conf, err := x.encapsulated(obx)
			if err != nil {
				return err
			}
			for _, att := range atts {
				dr.Content = append(dr.Content, fhir.DocumentReferenceContent{Attachment: att})
			}
			cdaConf = max(cdaConf, conf)
		case "RP":
			// A pointer to the document where the sender keeps it is
			// the content by URL (the IG's RP to DocumentReference map:
			// RP.1 content.attachment.url), when RP.1 is an absolute URL.
			atts, _ := x.pointers(obx)
			for _, att := range atts {
				dr.Content = append(dr.Content, fhir.DocumentReferenceContent{Attachment: att})
			}
		}
	}
	if hasText {
		data := []byte(strings.Join(text, "\n"))
		dr.Content = append([]fhir.DocumentReferenceContent{{Attachment: attachment("text/plain; charset=utf-8", data)}}, dr.Content...)
	}
	if len(dr.Content) == 0 {
		if trig := x.typ.Trigger; notificationOnly[trig] {
			// DocumentReference.content is 1..*: a metadata-only
			// resource would be invalid FHIR, so the sender must send
			// the document itself (T02/T04/T06/T08/T10 with OBX).
			return &ContentError{Segment: "TXA", Pos: txa.Pos(), Field: "TXA", Reason: "MDM^" + trig + " notifies about a document without carrying it (TXA only, no OBX); FHIR DocumentReference requires content, send the document with OBX (MDM^T02/T04/T06/T08/T10)"}
		}
		return &ContentError{Segment: "OBX", Field: "OBX-5", Reason: "document has no content"}
	}
	// TXA-18 labels the document (and, through the bundle's high-water
	// mark, the Binary carrying its text) as ORC-28 labels an order; its
	// securityLabel carries the high-water mark of every label of the
	// document (applyLabels). A CDA document the message carries labels
	// it as its confidentialityCodes do (STANDARDS.md §7: carried over
	// from a C-CDA's confidentialityCode), the higher of the two winning.
	prev := x.orderSec
	sec := x.documentLabels(txa)
	if cdaConf >= 0 {
		if sec == nil {
			sec = newLabels()
		}
		sec.Raise(cdaConf)
	}
	if sec != nil {
		sec.Merge(prev, true)
		x.orderSec = sec
	}
	x.focus = append(x.focus, x.add("DocumentReference", key, dr))
	x.orderSec = prev
	return nil
}

// documentType is DocumentReference.type for TXA-2 (t2 its first code,
// upper-cased). A table 0270 code (TXA-2.3 empty or HL70270) maps to the
// LOINC document code US Core accepts, and is kept beside it. From v2.6 on
// TXA-2 is a CWE, and a sender may code it in another system: a LOINC code
// there is itself the type, and a code of any other system keeps that
// system (never relabelled a 0270 code) beside UNK. US Core binds type
// (required) to LOINC document codes or v3-NullFlavor UNK;
// data-absent-reason is outside that set, and a validating exchange
// refuses it.
func (x *conv) documentType(cwe hl7v2.Value, t2 string) *fhir.CodeableConcept {
	const loinc = "http://loinc.org"
	unk := fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", Code: "UNK", Display: "unknown"}
	typ := &fhir.CodeableConcept{}
	sys := ""
	if name := cwe.Text(3); name != "" {
		sys = x.codeSystem(name)
	}
	switch {
	case t2 == "":
		typ.Coding = append(typ.Coding, unk)
	case sys == "" || sys == v2Table+"0270":
		if c, ok := documentTypes[t2]; ok {
			typ.Coding = append(typ.Coding, c)
		} else {
			typ.Coding = append(typ.Coding, unk)
		}
		typ.Coding = append(typ.Coding, fhir.Coding{System: v2Table + "0270", Code: t2, Display: cwe.Text(2)})
	case sys == loinc:
		typ.Coding = append(typ.Coding, fhir.Coding{System: loinc, Code: cwe.Text(1), Display: cwe.Text(2)})
	default:
		// A code of another system is that system's, whatever its
		// letters: a local "DS" (a dental summary) is not table 0270's
		// discharge summary, so it is never mapped through 0270.
		typ.Coding = append(typ.Coding, unk, fhir.Coding{System: sys, Code: cwe.Text(1), Display: cwe.Text(2)})
	}
	// The alternate code (TXA-2.4 to 2.6): a LOINC one is the type when
	// the first code gave none.
	if alt := cwe.Text(4); alt != "" {
		altSys := x.codeSystem(cwe.Text(6))
		c := fhir.Coding{System: altSys, Code: alt, Display: cwe.Text(5)}
		switch {
		case slices.ContainsFunc(typ.Coding, func(k fhir.Coding) bool { return k.System == altSys && k.Code == alt }):
		case altSys == loinc && typ.Coding[0] == unk:
			typ.Coding[0] = c
		default:
			typ.Coding = append(typ.Coding, c)
		}
	}
	return typ
}

func attachment(contentType string, data []byte) fhir.Attachment {
	sum := sha1.Sum(data)
	return fhir.Attachment{ContentType: contentType, Data: data, Size: int64(len(data)), Hash: sum[:]}
}

// encapsulated decodes an ED value in OBX-5: .2 type of data, .3 subtype,
// .4 encoding (Base64, Hex or A for ASCII), .5 the data. Senders that
// leave out ED.1 (source application) with its separator write the four
// others one place early (application^pdf^Base64^<data>): ED.3 is then
// the encoding, which no subtype is, and ED.4 the data. An empty ED gives
// no attachment; undecodable data is a content error. conf is the highest
// confidentiality a CDA document the ED carries gives
// (cdaConfidentiality), whatever type of data the sender named it by
// (multipart^x-hl7-cda-level-one, TEXT^XML, application^xml, or none), and
// also when it travels in a package kept whole; -1 when it carries none.
// A repeating OBX-5 carries one document in each repetition: each is its
// own attachment (the v2-to-FHIR IG maps OBX-5 ED to
// DocumentReference.content and DiagnosticReport.presentedForm, both of
// which repeat), so none is dropped while the message is acknowledged.
//
// A sender may split one document's data over consecutive OBX: the same
// OBX-3 and OBX-4 (the sub-ID HL7 v2 chapter 7 groups the OBX of one
// observation by), the first with the type and encoding, the others with
// the data alone (^^^^data). The pieces are one document: their data is
// joined before it is decoded, since a piece is seldom whole base64 on its
// own, and each piece alone would be a broken document delivered as if
// fine. Pieces after an OBX-5 that repeats could continue any of its
// documents (or none), and are refused.
func (x *conv) encapsulated(obx hl7v2.Segment) (atts []fhir.Attachment, conf int, err error) {
	conf = -1
	if _, piece := x.edPieceShape(obx); piece {
		// Data alone, with no ED before it that it continues (another
		// OBX-3 or OBX-4, or a segment between): it names neither its
		// type of data nor its encoding (ED.2 and ED.4, required), and is
		// most likely a piece of a document whose other pieces went
		// elsewhere. Read as text it would be a broken document, and
		// read in ED.4 it was dropped without a word.
		return nil, -1, x.badField(obx, 5, "encapsulated data without its type of data or encoding (ED.2 to ED.4 empty), and no ED OBX with the same OBX-3 and OBX-4 right before it that it would continue")
	}
	if f := obx.Field(5); f.NumReps() == 1 && f.Rep(1).Text(1) != "" && !textPast(f.Rep(1).Raw(), x.m.Delimiters().Component, 1) && x.edBefore(obx) {
		// A bare value (ED.1 alone, the source application by position)
		// right after an ED of the same OBX-3 and OBX-4 is most likely the
		// rest of that document sent without its separators: read as an
		// ED it carries no data and was dropped without a word, and the
		// document before it delivered as if whole.
		return nil, -1, x.badField(obx, 5, "encapsulated value with ED.1 only (no type of data, encoding or data) right after an ED OBX with the same OBX-3 and OBX-4: the rest of that document without its separators? (send it as ^^^^data)")
	}
	more := x.edPieces(obx)
	if n := obx.Field(5).NumReps(); len(more) > 0 && n != 1 {
		return nil, -1, x.badField(obx, 5, "the encapsulated data in the OBX after it (segment "+itoa(more[0].Pos())+") would continue one of its "+itoa(n)+" values, and which one is not said")
	}
	n := 0
	for ed := range obx.Field(5).RepsSeq() {
		n++
		att, c, err := x.encapsulatedValue(obx, ed, n, more)
		if err != nil {
			return nil, -1, err
		}
		if att != nil {
			atts = append(atts, *att)
			conf = max(conf, c)
		}
	}
	return atts, conf, nil
}

// edPiece reports whether obx carries only a piece of encapsulated data
// (OBX-2 ED, OBX-5 one value with ED.1 to ED.3 empty and the data in ED.5,
// or in ED.4 for senders that leave out ED.1) continuing the ED in the OBX
// before it, which has the same OBX-3 and OBX-4; data is the piece.
func (x *conv) edPiece(obx hl7v2.Segment) (data string, ok bool) {
	data, ok = x.edPieceShape(obx)
	if !ok {
		return "", false
	}
	if !x.edBefore(obx) {
		return "", false
	}
	return data, true
}

// edBefore reports whether the segment right before obx is an ED OBX with
// the same OBX-3 and OBX-4.
func (x *conv) edBefore(obx hl7v2.Segment) bool {
	segs := x.m.Segments()
	if obx.Pos() < 2 || obx.Pos() > len(segs) {
		return false
	}
	prev := segs[obx.Pos()-2]
	return prev.Name == "OBX" && strings.EqualFold(prev.Field(2).Text(1), "ED") &&
		prev.Field(3).Text(1) == obx.Field(3).Text(1) && prev.Field(3).Text(3) == obx.Field(3).Text(3) &&
		prev.Field(4).String() == obx.Field(4).String()
}

// edPieceShape reports whether obx has the shape of a piece of
// encapsulated data (edPiece), wherever it stands; data is the piece.
func (x *conv) edPieceShape(obx hl7v2.Segment) (data string, ok bool) {
	f := obx.Field(5)
	if !strings.EqualFold(obx.Field(2).Text(1), "ED") || f.NumReps() != 1 {
		return "", false
	}
	ed := f.Rep(1)
	if ed.Text(1) != "" || ed.Text(2) != "" || ed.Text(3) != "" || (ed.Text(4) == "") == (ed.Text(5) == "") {
		return "", false
	}
	if textPast(ed.Raw(), x.m.Delimiters().Component, 5) {
		return "", false
	}
	if ed.Text(5) != "" {
		return ed.Comp(5).String(), true
	}
	return ed.Comp(4).String(), true
}

// edPieces are the OBX right after obx that carry pieces of its
// encapsulated data (edPiece).
func (x *conv) edPieces(obx hl7v2.Segment) []hl7v2.Segment {
	var more []hl7v2.Segment
	segs := x.m.Segments()
	for i := obx.Pos(); i > 0 && i < len(segs); i++ {
		if _, ok := x.edPiece(segs[i]); !ok {
			break
		}
		more = append(more, segs[i])
	}
	return more
}

// segmentSpan names the positions of segs, consecutive segments.
func segmentSpan(segs []hl7v2.Segment) string {
	if len(segs) == 1 {
		return "segment " + itoa(segs[0].Pos())
	}
	return "segments " + itoa(segs[0].Pos()) + " to " + itoa(segs[len(segs)-1].Pos())
}

// encapsulatedValue decodes repetition rep of an OBX-5 ED (encapsulated),
// with the data of the pieces in more after its own (edPieces).
func (x *conv) encapsulatedValue(obx hl7v2.Segment, ed hl7v2.Value, rep int, more []hl7v2.Segment) (att *fhir.Attachment, conf int, err error) {
	typ, sub, enc, raw, last := ed.Text(2), ed.Text(3), ed.Text(4), ed.Comp(5).String(), 5
	// (the data of a shifted ED may all be in the pieces after it)
	if strings.TrimSpace(raw) == "" && (ed.Text(4) != "" || len(more) > 0) && edEncodings[strings.ToUpper(ed.Text(3))] {
		typ, sub, enc, raw, last = ed.Text(1), ed.Text(2), ed.Text(3), ed.Comp(4).String(), 4
	}
	if len(more) > 0 {
		// Joined once, in a buffer of the whole size: no copy per piece.
		pieces := make([]string, 0, len(more)+1)
		pieces = append(pieces, raw)
		for _, seg := range more {
			data, _ := x.edPiece(seg)
			pieces = append(pieces, data)
		}
		raw = strings.Join(pieces, "")
	}
	if strings.TrimSpace(raw) == "" {
		return nil, -1, nil
	}
	// The data is the ED's last component: text after it is data the
	// sender did not escape (a "^" in text), and reading up to the
	// separator would drop the rest without a word.
	if textPast(ed.Raw(), x.m.Delimiters().Component, last) {
		reason := "encapsulated data runs on past ED." + itoa(last) + " (an unescaped component separator in the data?)"
		if rep > 1 {
			reason += " (repetition " + itoa(rep) + ")"
		}
		return nil, -1, x.badField(obx, 5, reason)
	}
	var data []byte
	switch strings.ToUpper(enc) {
	case "BASE64":
		data, err = base64.StdEncoding.DecodeString(strings.Map(dropSpace, raw))
	case "HEX":
		data, err = hex.DecodeString(strings.Map(dropSpace, raw))
	default:
		data = []byte(raw)
	}
	if err != nil {
		reason := "encapsulated data does not decode: " + err.Error()
		if rep > 1 {
			reason += " (repetition " + itoa(rep) + ")"
		}
		if len(more) > 0 {
			// The offset is in the joined data, past this OBX's own.
			reason += " (its data joined with the OBX after it, " + segmentSpan(more) + ")"
		}
		return nil, -1, x.badField(obx, 5, reason)
	}
	ct, cda := mimeType(typ, sub), data
	if strings.EqualFold(typ, "multipart") && strings.EqualFold(sub, "x-hl7-cda-level-one") {
		ct, data, cda = cdaED(data)
	}
	conf = -1
	if looksXML(cda) {
		conf = cdaConfidentiality(cda)
	}
	a := attachment(ct, data)
	if c := x.cwe(obx.Field(3).Rep(1), ""); c != nil {
		a.Title = orStr(c.Text, firstDisplay(c))
	}
	return &a, conf, nil
}

// textPast reports whether raw, a value of components separated by sep,
// has anything but separators after its n-th component.
func textPast(raw []byte, sep byte, n int) bool {
	for i, c := range raw {
		if c != sep {
			continue
		}
		if n--; n == 0 {
			return len(bytes.Trim(raw[i+1:], string(sep)+" ")) > 0
		}
	}
	return false
}

// edEncodings are the ED.4 encodings (table 0299).
var edEncodings = map[string]bool{"A": true, "HEX": true, "BASE64": true}

// pointers converts an OBX-5 reference pointer (RP) to an Attachment by
// URL for each repetition whose RP.1 is an absolute URL (a bare file name
// or an id only the sender's application can resolve is no FHIR url); a
// repeating OBX-5 points at one document in each repetition, and none is
// dropped. all is false when some repetition is no such URL. RP.3/RP.4,
// the type of data and its subtype, give the content type when they name
// one; the title is the observation's name, as for an ED.
func (x *conv) pointers(obx hl7v2.Segment) (atts []fhir.Attachment, all bool) {
	all = true
	for rp := range obx.Field(5).RepsSeq() {
		if rp.Empty() {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(rp.Text(1)))
		if err != nil || !u.IsAbs() || u.Opaque == "" && u.Host == "" && u.Path == "" {
			all = false
			continue
		}
		att := fhir.Attachment{URL: u.String()}
		if ct := mimeType(rp.Text(3), rp.Text(4)); ct != "application/octet-stream" {
			att.ContentType = ct
		}
		if c := x.cwe(obx.Field(3).Rep(1), ""); c != nil {
			att.Title = orStr(c.Text, firstDisplay(c))
		}
		atts = append(atts, att)
	}
	return atts, all
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
		return -1
	}
	return r
}

func firstDisplay(cc *fhir.CodeableConcept) string {
	if len(cc.Coding) == 0 {
		return ""
	}
	return cc.Coding[0].Display
}

// mimeType turns ED.2/ED.3 (MIME type and subtype, or the v2 table 0191
// codes AP, IM, TEXT...) into a content type.
func mimeType(typ, sub string) string {
	t, s := strings.ToLower(typ), strings.ToLower(sub)
	switch t {
	case "ap":
		t = "application"
	case "im":
		t = "image"
	case "au":
		t = "audio"
	case "tx", "text":
		t = "text"
	}
	switch {
	case t == "application" || t == "image" || t == "audio" || t == "video" || t == "text":
		if s == "" {
			if t == "text" {
				return "text/plain"
			}
			return "application/octet-stream"
		}
		if s == "octet-stream" || validToken(s) {
			return t + "/" + s
		}
	}
	return "application/octet-stream"
}

func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.') {
			return false
		}
	}
	return s != ""
}
