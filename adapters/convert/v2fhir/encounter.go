package v2fhir

import (
	"encoding/json"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

const actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

// patientClass maps PV1-2 (table 0004) to Encounter.class as the IG's
// ConceptMap table-hl70004-to-v3-actcode does: E, I, O, P have v3 ActCode
// equivalents; R (recurring), B (obstetrics), C (commercial account), N
// (not applicable) and U (unknown) have none and keep their v2-0004 code,
// rather than an invented ambulatory or inpatient class.
var patientClass = map[string]fhir.Coding{
	"E": {System: actCode, Code: "EMER", Display: "emergency"},
	"I": {System: actCode, Code: "IMP", Display: "inpatient encounter"},
	"O": {System: actCode, Code: "AMB", Display: "ambulatory"},
	"P": {System: actCode, Code: "PRENC", Display: "pre-admission"},
	"R": {System: v2Table + "0004", Code: "R", Display: "Recurring patient"},
	"B": {System: v2Table + "0004", Code: "B", Display: "Obstetrics"},
	"C": {System: v2Table + "0004", Code: "C", Display: "Commercial Account"},
	"N": {System: v2Table + "0004", Code: "N", Display: "Not Applicable"},
	"U": {System: v2Table + "0004", Code: "U", Display: "Unknown"},
}

// encounter converts PV1 (with PV2 when present) to an Encounter. status
// comes from the trigger event; a discharge date makes it finished. The
// Encounter's key is the visit number (PV1-19); without one, the admit
// time (PV1-44) scoped by patient, and failing that (ADT only) the
// message itself.
//
// A PUT replaces the whole resource, and the PV1 of a result, order,
// vaccination, document or appointment (ORU, ORM/OML, VXU, MDM, SIU, ...)
// is sparse, often a visit number alone: written, it would blank the
// status, period, location, participants and hospitalization the ADT feed
// wrote under the same key. Such a message therefore refers to the visit
// without replacing it (addExisting) where that costs nothing: in
// ModeConditional it is a conditional create (POST, ifNoneExist
// identifier=...), which leaves a stored visit as it is and otherwise
// creates it from this PV1 for the ADT's conditional update to complete.
// Where the Encounter is referred to by a literal id (ModeID,
// ModePatientConditional, the default) it is left out of the bundle only
// with PatientFromADTOnly, the setting that says the site's ADT feed comes
// through this gateway: its references then name Encounter/<UUIDv5 of the
// key>, the id the ADT's PUT gives it, whether that came before or comes
// later (FHIR R4 has no "PUT only if absent", and a PATCH of a missing
// resource would fail the whole transaction). Without that setting a
// lab-only site's results are the only source of the visit, and a
// reference to an Encounter no ADT will ever write would dangle (an
// exchange that checks references on write, as HAPI does by default,
// would refuse the result), so the PV1 is written, as the PID is.
//
// A non-ADT PV1 with neither a visit number nor an admit time names no
// visit the exchange could find again: keyed by the message, every result
// (and every re-send under a new MSH-10) would add one more Encounter for
// the same visit, so it gives none; the PV1 still travels in the Binary.
func (x *conv) encounter(pv1 hl7v2.Segment, status string) (*fhir.Reference, error) {
	class := strings.ToUpper(pv1.Field(2).Text(1))
	if class == "N" && !visitData(pv1) {
		// Not applicable, and nothing else said about a visit: an
		// Encounter would only record that there is none.
		return nil, nil
	}
	if !pv1.Field(20).Empty() && !visitDataBut(pv1, 20) {
		// Only a financial class (the VFC eligibility CDC immunization
		// senders put in PV1-20): no visit, and an Encounter of it
		// could only be keyed by the message, a new one each time.
		return nil, nil
	}
	// The Encounter and room for its usual parts: one allocation.
	box := x.slabs.encounters.one()
	e := &box.e
	*e = fhir.Encounter{ResourceType: "Encounter", Status: status, Subject: x.patientRef}
	if c, ok := patientClass[class]; ok {
		e.Class = c
	} else {
		e.Class = fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", Code: "UNK", Display: "unknown"}
	}
	var key fhir.Identifier
	if id, ok := x.cxValue(pv1.Field(19).Rep(1)); ok {
		if id.Type == nil {
			id.Type = identifierType("VN")
		}
		if strings.HasPrefix(id.System, x.system("id")) {
			id.System = x.system("visit")
			if ns := pv1.Field(19).Comp(4).Sub(1).Trimmed(); ns != "" {
				id.System += ":" + sanitise(ns)
			}
		}
		e.Identifier = append(into(e.Identifier, box.ids[:]), id)
		key = id
	}
	start, err := x.fieldDateTime(pv1, 44)
	if err != nil {
		return nil, err
	}
	end, err := x.fieldDateTime(pv1, 45)
	if err != nil {
		return nil, err
	}
	// An A13 cancels the discharge an A03 made (HL7 v2.5.1 3.3.13), and
	// an A25 the one an A16 planned (3.3.25); the PV1 may still carry that
	// discharge's time and disposition (PV1-45, PV1-36): the visit it
	// writes is open again, and says neither. An A16 is sent "when the
	// patient has not yet left" (3.3.16): its PV1-45 is when the patient
	// may leave, no end of the visit.
	reopened := x.typ.Code == "ADT" && (x.typ.Trigger == "A13" || x.typ.Trigger == "A25")
	if reopened || x.typ.Code == "ADT" && x.typ.Trigger == "A16" {
		end = ""
	}
	// An A03 records the discharge (HL7 v2.5.1 3.3.3) whether or not its
	// PV1-45 says when: without it, the event's time ends the visit, not
	// a period R4 would read as still going on.
	endField := 45
	if end == "" && x.typ.Code == "ADT" && x.typ.Trigger == "A03" {
		if end, err = x.eventTime(); err != nil {
			return nil, err
		}
		endField = 0
	}
	// A discharge before the admission breaks per-1, and the exchange
	// would refuse the visit after the sender had its AA. Which of the
	// two times is wrong the message does not say, and an ADT's are the
	// visit's own: it is refused, naming the field, to be corrected.
	// Another message (a result, an order) is not about the visit: it
	// goes without the two times rather than be held back for them.
	if endsBefore(start, end) && x.typ.Code != "ADT" {
		start, end = "", ""
	}
	if endsBefore(start, end) {
		if endField == 45 {
			return nil, x.badField(pv1, 45, "invalid discharge date/time: before the admit date/time (PV1-44)")
		}
		evn, _ := x.m.Segment("EVN")
		n := 2
		if evn.Field(6).Text(1) != "" {
			n = 6
		}
		return nil, x.badField(evn, n, "invalid event date/time of the discharge: before the admit date/time (PV1-44)")
	}
	if start != "" || end != "" {
		box.period = fhir.Period{Start: start, End: end}
		e.Period = &box.period
	}
	// A discharge time finishes the visit, but not one the event says has
	// not begun (an A05 pre-admit or A14 pending admit, "planned"): its
	// PV1-45, which senders that send the PV1 whole fill there too, can
	// only be the end planned for it.
	if end != "" && status != "cancelled" && status != "planned" {
		e.Status = "finished"
	}
	if key.Value == "" {
		// A minted key: the same admission always gets the same Encounter.
		if pv1.Field(44).Text(1) == "" && (x.typ.Code != "ADT" || !beginsVisit[x.typ.Trigger]) {
			// Keyed by this message alone: no visit to share. A later
			// event of an ADT's visit (a transfer, discharge, update or
			// cancel) has an event time of its own, and would add a
			// second Encounter beside the one it is about.
			return nil, nil
		}
		// The visit an ADT begins without either: EVN-2, the event's
		// recorded time, which a re-send under a new MSH-10 repeats; the
		// control id only when the message has no EVN-2 either.
		when := pv1.Field(44).Text(1)
		if evn, ok := x.m.Segment("EVN"); ok && when == "" {
			if t := evn.Field(2).Text(1); t != "" {
				when = x.slabs.text.cat("evn.", t)
			}
		}
		key = fhir.Identifier{System: x.system("encounter"), Value: x.slabs.text.cat(x.patientKey, "-", orStr(when, x.controlID))}
		e.Identifier = append(into(e.Identifier, box.ids[:]), key)
	}
	if t := x.tableCC(pv1.Field(4).Rep(1), "0007"); t != nil {
		e.Type = append(e.Type, *t)
	} else {
		// US Core Encounter.type is 1..*: without an admission type the
		// message does not say, and US Core's missing-data rule wants
		// data-absent-reason "unknown" rather than a guessed visit type.
		e.Type = append(e.Type, fhir.UnknownConcept())
	}
	e.ServiceType = x.tableCC(pv1.Field(10).Rep(1), "0069")
	for _, p := range participantRoles {
		for rep := range pv1.Field(p.field).RepsSeq() {
			ref := x.practitioner(rep)
			if ref == nil {
				continue
			}
			e.Participant = append(into(e.Participant, box.participants[:]), fhir.EncounterParticipant{
				Type:       p.typ,
				Individual: ref,
			})
		}
	}
	hosp := &box.hosp
	*hosp = fhir.EncounterHospitalization{
		AdmitSource: x.tableCC(pv1.Field(14).Rep(1), "0023"),
		ReAdmission: x.tableCC(pv1.Field(13).Rep(1), "0092"),
	}
	if !reopened {
		hosp.DischargeDisposition = x.tableCC(pv1.Field(36).Rep(1), "0112")
	}
	if id := x.cx(pv1.Field(5).Rep(1)); id != nil {
		hosp.PreAdmissionIdentifier = id
	}
	// PV1-16, the VIP indicator (user-defined table 0099): the IG's
	// PV1[Encounter] map makes it specialCourtesy. A courtesy the visit
	// is extended, not a restriction of its record: a sender restricts
	// a VIP's record with ARV or ORC-28 (security.go).
	if vip := x.tableCC(pv1.Field(16).Rep(1), "0099"); vip != nil {
		hosp.SpecialCourtesy = append(hosp.SpecialCourtesy, *vip)
	}
	if hosp.AdmitSource != nil || hosp.ReAdmission != nil || hosp.DischargeDisposition != nil || hosp.PreAdmissionIdentifier != nil || hosp.SpecialCourtesy != nil {
		e.Hospitalization = hosp
	}
	// The IG's PV1[Encounter] map: PV1-3 is "planned" for a pre-admit
	// (PV1-2 P), else "active"; a planned visit's bed (A05, A14) is
	// where the patient will be too, and a finished one's was. A cancelled
	// visit (A11, A27, A38) "ended before it has begun": the patient is
	// not, was not and will not be in its bed, which none of R4's location
	// statuses says, so the bed has none (location.status is 0..1).
	locStatus := "active"
	switch {
	case e.Status == "cancelled":
		locStatus = ""
	case e.Status == "finished":
		locStatus = "completed"
	case e.Status == "planned" || class == "P":
		locStatus = "planned"
	}
	// An A02 moves the patient from PV1-6 to PV1-3 (HL7 v2.5.1 3.3.2) at
	// the time EVN-6 (Event Occurred) or, without it, EVN-2 says: the ward
	// left ends and the new one starts then (R4 location.period, "Time
	// period during which the patient was present at the location"). So
	// does an A06 or A07 whose PV1-6 names the old location "(if
	// different)" (3.3.6, 3.3.7); without one the class changed where the
	// patient was. A PV1-6 that is PV1-3's bed names no move, an A02's
	// neither (a transfer of service or doctor that kept the bed). Any
	// other event's PV1-6 is the last transfer's, whose time it does not
	// repeat.
	var moved string
	loc3 := placeText(&x.slabs.text, pv1.Field(3))
	loc6 := placeText(&x.slabs.text, pv1.Field(6))
	if x.typ.Code == "ADT" && (x.typ.Trigger == "A02" || changesClass[x.typ.Trigger] && loc6 != "") && loc6 != loc3 {
		if moved, err = x.eventTime(); err != nil {
			return nil, err
		}
	}
	if loc := loc3; loc != "" {
		l := fhir.EncounterLocation{Location: fhir.Reference{Display: loc}, Status: locStatus}
		var p fhir.Period
		if moved != "" && (locStatus == "active" || locStatus == "completed") {
			p.Start = moved
		}
		// A finished visit's bed is where the patient was until it ended
		// (PV1-45, or an A03's event time): R4's completed, "The patient
		// was at this location during the period specified".
		// A move the PV1 says came after the discharge (a transfer sent
		// late, its PV1 whole) keeps its time, which is what the event
		// says; the end before it would break per-1 and is left out.
		if locStatus == "completed" && !endsBefore(p.Start, end) {
			p.End = end
		}
		if p != (fhir.Period{}) {
			box.moves[0] = p
			l.Period = &box.moves[0]
		}
		e.Location = append(into(e.Location, box.locations[:]), l)
	}
	// An A12's PV1-6 is where the transfer it cancels would have taken
	// the patient (its PV1-3 is where the patient stayed, HL7 v2.5.1
	// 3.3.12): no location of the visit. A PV1-6 that is PV1-3's bed was
	// not left: the bed is listed once, as PV1-3.
	if loc := loc6; loc != "" && loc != loc3 && !(x.typ.Code == "ADT" && x.typ.Trigger == "A12") {
		l := fhir.EncounterLocation{Location: fhir.Reference{Display: loc}, Status: "completed"}
		if moved != "" {
			box.moves[1] = fhir.Period{End: moved}
			l.Period = &box.moves[1]
		}
		e.Location = append(into(e.Location, box.locations[:]), l)
	}
	// PV1-11, "a location other than the assigned location required for
	// a temporary period of time (e.g., OR, operating theatre, etc.)",
	// where an A09 or A10 tells the patient went: the IG's PV1[Encounter]
	// map makes it location[3] "active", classified "temporary" beside
	// the bed the patient keeps; a finished or cancelled visit's has its
	// bed's status.
	if loc := placeText(&x.slabs.text, pv1.Field(11)); loc != "" && loc != loc3 {
		e.Location = append(into(e.Location, box.locations[:]), fhir.EncounterLocation{Extension: temporaryLocation, Location: fhir.Reference{Display: loc}, Status: locStatus})
	}
	// PV1-42, the pending location "to which the patient may be moved"
	// (an A15 plans the transfer to it, HL7 v2.5.1 3.3.15): the IG's
	// PV1[Encounter] map makes it location[4] "reserved", R4's "This
	// location is held empty for this patient". Nothing is held for a
	// visit cancelled or finished, nor once an A26 cancels the pending
	// transfer (3.3.26); a PV1-42 that is PV1-3's bed is the transfer
	// done.
	if loc := placeText(&x.slabs.text, pv1.Field(42)); loc != "" && loc != loc3 && locStatus != "" && locStatus != "completed" &&
		!(x.typ.Code == "ADT" && x.typ.Trigger == "A26") {
		e.Location = append(into(e.Location, box.locations[:]), fhir.EncounterLocation{Location: fhir.Reference{Display: loc}, Status: "reserved"})
	}
	if pv2, ok := x.m.Segment("PV2"); ok {
		if r := x.cwe(pv2.Field(3).Rep(1), ""); r != nil {
			e.ReasonCode = append(e.ReasonCode, *r)
		}
	}
	ref := x.slabs.references.next()
	if x.typ.Code != "ADT" && (x.c.PatientFromADTOnly || x.byURN("Encounter")) {
		// The visit is the ADT feed's: refer to it, never replace it.
		*ref = x.addExisting("Encounter", key, e)
	} else if x.typ.Code == "ADT" && cancelsEvent[x.typ.Trigger] && !beyondVisitIdentity(pv1, x.typ.Trigger) {
		// A cancel need only send "the fields pertinent" (HL7 v2.5.1
		// 3.3.11 and on), often the visit number alone: written whole, it
		// would replace the visit the exchange holds with one that has no
		// period, location, type or doctors. What such a cancel changes
		// is the visit's status (and a cancelled transfer's location),
		// and that is PATCHed (ChangeBatch, after the transaction) at
		// the URL the visit's own write used; the Encounter is referred
		// to as a result's sparse PV1 refers to it.
		// A PATCH of a visit the exchange does not hold answers 404 and
		// is dead-lettered, as a document's withdrawal is: the admission
		// it cancels arriving later would show a cancelled visit open.
		*ref = x.addExisting("Encounter", key, e)
		x.changeVisit(key, e)
	} else {
		*ref = x.add("Encounter", key, e)
	}
	x.encRes = e
	x.encKey = key
	return ref, nil
}

// temporaryLocation classifies PV1-11's location as the IG maps it: the
// Extensions Pack's subject-locationClassification, code "temporary" of
// its code system (the IG's sheet gives the value set's URL, which is no
// code system). Shared and read-only.
var temporaryLocation = []fhir.Extension{{
	URL: "http://hl7.org/fhir/StructureDefinition/subject-locationClassification",
	ValueCodeableConcept: &fhir.CodeableConcept{Coding: []fhir.Coding{{
		System: "http://hl7.org/fhir/subject-locationClassification", Code: "temporary", Display: "Temporary",
	}}},
}}

// changesClass are the ADT events that change the class of a stay: an
// outpatient admitted (A06), an inpatient no longer admitted (A07).
var changesClass = map[string]bool{"A06": true, "A07": true}

// eventTime is when the ADT event happened: EVN-6 (Event Occurred), or
// EVN-2 (Recorded Date/Time) without it; "" when the message has neither.
// A re-send repeats both, so what is keyed or dated by it stays the same.
func (x *conv) eventTime() (string, error) {
	evn, ok := x.m.Segment("EVN")
	if !ok {
		return "", nil
	}
	if evn.Field(6).Text(1) != "" {
		return x.fieldDateTime(evn, 6)
	}
	return x.fieldDateTime(evn, 2)
}

// beginsVisit are the ADT events that begin the visit in their PV1: an
// admission, registration, pre-admission or pending admission, and an
// outpatient admitted (A06, A07 change the class of the stay). Only their
// Encounter may be keyed by the event when the PV1 names no visit number
// or admit time.
var beginsVisit = map[string]bool{"A01": true, "A04": true, "A05": true, "A06": true, "A07": true, "A14": true}

// cancelsEvent are the ADT events that cancel an earlier one: an
// admission or visit (A11), a transfer (A12), a discharge (A13), a
// pending discharge (A25), transfer (A26) or admission (A27), and a
// pre-admission (A38).
var cancelsEvent = map[string]bool{"A11": true, "A12": true, "A13": true, "A25": true, "A26": true, "A27": true, "A38": true}

// beyondVisitIdentity reports whether the PV1 of a cancel (trigger) says
// anything beyond what names the visit: its set id and class (PV1-1,
// PV1-2), visit number (PV1-19) and admit time (PV1-44), and for a
// cancelled transfer or pending transfer (A12, A26) where the patient
// stays (PV1-3) and where the patient was to go (PV1-6, PV1-42), which an
// A12 must send (HL7 v2.5.1 3.3.12).
func beyondVisitIdentity(pv1 hl7v2.Segment, trigger string) bool {
	transfer := trigger == "A12" || trigger == "A26"
	for n := 3; n <= pv1.NumFields(); n++ {
		if n == 19 || n == 44 || transfer && (n == 3 || n == 6 || n == 42) {
			continue
		}
		if f := pv1.Field(n); !f.Empty() && !f.IsNull() {
			return true
		}
	}
	return false
}

// changeVisit notes the change a cancel whose PV1 names only the visit
// makes to it: its status, and for a cancelled transfer that names where
// the patient stays, the location list a whole write would give (the
// transfer's destination, or the pending location no longer held, left
// out).
func (x *conv) changeVisit(key fhir.Identifier, e *fhir.Encounter) {
	var loc string
	if len(e.Location) > 0 && (x.typ.Trigger == "A12" || x.typ.Trigger == "A26") {
		// Display text from the message and fixed codes: it always
		// encodes.
		b, _ := json.Marshal(e.Location)
		loc = string(b)
	}
	d := Change{URL: x.changeURL("Encounter", key), Status: e.Status, Location: loc}
	for _, c := range x.changes {
		if c == d {
			return
		}
	}
	x.changes = append(x.changes, d)
}

// participantRole is a PV1 field naming an Encounter's practitioners and
// the participant type each gets (shared and read-only).
type participantRole struct {
	field int
	typ   []fhir.CodeableConcept
}

var participantRoles = func() []participantRole {
	var roles []participantRole
	for _, r := range []struct {
		field      int
		code, disp string
	}{{7, "ATND", "attender"}, {8, "REF", "referrer"}, {9, "CON", "consultant"}, {17, "ADM", "admitter"}} {
		typ := []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", Code: r.code, Display: r.disp}}}}
		roles = append(roles, participantRole{r.field, typ})
	}
	return roles
}()

// visitData reports whether PV1 says anything beyond its set id and
// patient class (PV1-1, PV1-2): a visit number, times, location or
// providers are worth an Encounter whatever the class.
func visitData(pv1 hl7v2.Segment) bool {
	return visitDataBut(pv1, 0)
}

// visitDataBut is visitData not counting field skip.
func visitDataBut(pv1 hl7v2.Segment, skip int) bool {
	for n := 3; n <= pv1.NumFields(); n++ {
		if f := pv1.Field(n); n != skip && !f.Empty() && !f.IsNull() {
			return true
		}
	}
	return false
}

// placeText renders a PL (point of care, room, bed, facility, ..., building,
// floor) as display text, joined in t (every Encounter has up to four).
func placeText(t *textArena, f hl7v2.Value) string {
	var parts [13]string // up to seven parts and the spaces between them
	n := 0
	add := func(s string) {
		if n > 0 {
			parts[n] = " "
			n++
		}
		parts[n] = s
		n++
	}
	for _, c := range [...]int{4, 7, 8, 1, 2, 3} {
		if s := f.Comp(c).Sub(1).Trimmed(); s != "" {
			add(s)
		}
	}
	if d := f.Text(9); d != "" {
		add(d)
	}
	return t.cat(parts[:n]...)
}

// encounterBox is an Encounter and room for its usual parts: one
// allocation.
type encounterBox struct {
	e            fhir.Encounter
	ids          [1]fhir.Identifier
	period       fhir.Period
	hosp         fhir.EncounterHospitalization
	locations    [4]fhir.EncounterLocation
	moves        [2]fhir.Period
	participants [2]fhir.EncounterParticipant
}
