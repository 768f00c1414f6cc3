package v2fhir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/merges"
)

// messagePatient converts the one PID that ADT, order, scheduling and
// document messages require, makes it the current patient and the first
// focus, and adds its NK1 and PD1 (patientExtras). The messages that can
// carry several patients (ORU, OUL) walk their PIDs themselves.
func (x *conv) messagePatient() error {
	pid, ok := x.m.Segment("PID")
	if !ok {
		return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing"}
	}
	ref, err := x.patient(pid)
	if err != nil {
		return err
	}
	x.patientRef = ref
	x.focus = append(x.focus, *ref)
	return x.patientExtras()
}

// patientExtras adds NK1 next of kin as Patient.contact and PD1-4 as the
// general practitioner of the current patient.
func (x *conv) patientExtras() error {
	p := x.patientRes
	for _, nk1 := range x.m.All("NK1") {
		c := fhir.PatientContact{}
		if n := x.xpn(nk1.Field(2).Rep(1)); n != nil {
			c.Name = n
		}
		if r := x.tableCC(nk1.Field(3).Rep(1), "0063"); r != nil {
			c.Relationship = append(c.Relationship, *r)
		}
		if r := x.tableCC(nk1.Field(7).Rep(1), "0131"); r != nil {
			c.Relationship = append(c.Relationship, *r)
		}
		if a := x.xad(nk1.Field(4).Rep(1)); a != nil {
			c.Address = a
		}
		for rep := range nk1.Field(5).RepsSeq() {
			if t := x.xtn(rep, "home"); t != nil {
				c.Telecom = append(c.Telecom, *t)
			}
		}
		for rep := range nk1.Field(6).RepsSeq() {
			if t := x.xtn(rep, "work"); t != nil {
				c.Telecom = append(c.Telecom, *t)
			}
		}
		// v2.7 keeps NK1-5 and NK1-6 for backward compatibility only:
		// NK1-40 is the party's telecom, NK1-41 its contact person's
		// (the IG's NK1 map: contact.telecom both).
		for _, n := range [...]int{40, 41} {
			for rep := range nk1.Field(n).RepsSeq() {
				if t := x.xtn(rep, ""); t != nil && !hasTelecom(c.Telecom, t) {
					c.Telecom = append(c.Telecom, *t)
				}
			}
		}
		c.Gender = genders[strings.ToUpper(nk1.Field(15).Text(1))]
		// NK1-8 and NK1-9 bound the contact role (the IG's NK1 map:
		// contact.period), so one that ended is not taken for current.
		start, ok := x.date(nk1.Field(8).Text(1))
		if !ok {
			return x.badField(nk1, 8, "invalid start date")
		}
		end, ok := x.date(nk1.Field(9).Text(1))
		if !ok {
			return x.badField(nk1, 9, "invalid end date")
		}
		if n := min(len(start), len(end)); n > 0 && end[:n] < start[:n] {
			end = "" // per-1: an end before the start says nothing sure
		}
		if start != "" || end != "" {
			c.Period = &fhir.Period{Start: start, End: end}
		}
		if org := nk1.Field(13).Text(1); org != "" {
			c.Organization = &fhir.Reference{Display: org}
		}
		if c.Name == nil && c.Organization == nil && len(c.Telecom) == 0 && c.Address == nil {
			continue // pat-1: a contact needs a name, telecom, address or organization
		}
		p.Contact = append(p.Contact, c)
	}
	if pd1, ok := x.m.Segment("PD1"); ok {
		for rep := range pd1.Field(4).RepsSeq() {
			if ref := x.practitioner(rep); ref != nil {
				p.GeneralPractitioner = append(p.GeneralPractitioner, *ref)
			}
		}
	}
	return nil
}

// merge handles ADT^A40: MRG-1 names the record merged into the PID
// patient. That record is written inactive with a replaced-by link (as IHE
// PIXm and PMIR do), and the surviving patient links back with replaces.
func (x *conv) merge() error {
	if mrg, ok := x.firstMRG(); ok {
		return x.mergeInto(mrg)
	}
	return &ContentError{Segment: "MRG", Field: "MRG", Reason: "required segment missing for a merge"}
}

// firstMRG returns the MRG of the first patient group: between the first
// PID and the next, so another group's prior record is never merged into
// this patient.
func (x *conv) firstMRG() (hl7v2.Segment, bool) {
	pids := 0
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "PID":
			pids++
		case "MRG":
			if pids == 1 {
				return seg, true
			}
		}
		if pids > 1 {
			break
		}
	}
	return hl7v2.Segment{}, false
}

// mrgIdentifiers returns the identifiers MRG-1 lists (no SSN) and the one
// that keys the prior record, keyed as patient keys a PID (keyRank), so
// the record retired is the one PID-3 wrote.
func (x *conv) mrgIdentifiers(mrg hl7v2.Segment) (ids []fhir.Identifier, key *fhir.Identifier) {
	for rep := range mrg.Field(1).RepsSeq() {
		id := x.cx(rep)
		if id == nil || id.System == sysSSN {
			continue
		}
		ids = append(ids, *id)
		if key == nil || keyRank(id) > keyRank(key) {
			k := *id
			key = &k
		}
	}
	return ids, key
}

// afterKeys are the order keys a message making ms is delivered after
// (Result.AfterKeys): each retired record's, then each survivor's that is
// not the message's own (an A40's later groups), once.
func (x *conv) afterKeys(ms []merges.Merge) []string {
	var keys []string
	add := func(id merges.ID) {
		if k := fhir.PatientKey(id.System, id.Value); k != x.orderKey && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, m := range ms {
		add(m.Retired)
	}
	for _, m := range ms {
		add(m.Survivor)
	}
	return keys
}

// mergedInto reports whether this message's earlier merges (an A40's
// earlier patient groups) retire id into target, directly or through a
// chain of them; the newest merge of an identifier counts, as in the
// registry.
func (x *conv) mergedInto(id, target merges.ID) bool {
	for range x.merges {
		next, ok := merges.ID{}, false
		for _, m := range x.merges {
			if m.Retired == id {
				next, ok = m.Survivor, true
			}
		}
		if !ok {
			return false
		}
		if next == target {
			return true
		}
		id = next
	}
	return false
}

// mergeInto writes the record mrg names as merged into the current
// patient.
func (x *conv) mergeInto(mrg hl7v2.Segment) error {
	old := &fhir.Patient{ResourceType: "Patient"}
	var key *fhir.Identifier
	old.Identifier, key = x.mrgIdentifiers(mrg)
	reverse := x.reversing
	x.reversing, x.groupMRG = false, hl7v2.Segment{}
	if key == nil {
		if x.hasSSN(mrg.Field(1)) {
			return x.badField(mrg, 1, "no prior patient identifier"+butSSN)
		}
		return x.badField(mrg, 1, "no prior patient identifier")
	}
	if key.System == x.patientID.System && key.Value == x.patientID.Value {
		if x.curRetied {
			// PID-3 was merged into this very record earlier (directly
			// or through a chain) and the group's MRG was not read as
			// turning that round (reverses): merging it back would
			// leave no record standing. Defensive: every merge group
			// sets groupMRG before its PID is converted.
			return x.badField(mrg, 1, "merge cycle: the PID-3 patient was merged into this prior record earlier (if that merge was sent in error, `ferry merges undo` takes it back)")
		}
		return x.badField(mrg, 1, "prior patient identifier equals the surviving one")
	}
	merge := merges.Merge{
		Retired:  merges.ID{System: key.System, Value: key.Value},
		Survivor: merges.ID{System: x.patientID.System, Value: x.patientID.Value},
		Reverse:  reverse,
	}
	if x.mergedInto(merge.Survivor, merge.Retired) {
		// The registry does not hold this message's earlier groups yet:
		// refused there after the first was recorded, the message would
		// be retried, and its resend turn the first merge round.
		return x.badField(mrg, 1, "merge cycle: an earlier patient group of this message merged the PID-3 patient into this prior record, and no record would be left standing")
	}
	if len(x.afterKeys(append(x.merges[:len(x.merges):len(x.merges)], merge))) > queue.MaxAfter {
		// The bundle is delivered after the backlog of every record it
		// retires and of every other survivor it writes
		// (Result.AfterKeys), and the queue orders an item after at
		// most queue.MaxAfter keys: refused there, the message would
		// fail every resend.
		return x.badField(mrg, 1, fmt.Sprintf("more than %d patients merged in one message, retired or surviving (send them as separate messages)", queue.MaxAfter))
	}
	if !merge.Fits() {
		return x.badField(mrg, 1, fmt.Sprintf("identifiers too long to remember the merge (MRG-1 with PID-3 over %d bytes, or one over 16 KiB)", merges.MaxMergeBytes))
	}
	if n := x.xpn(mrg.Field(7).Rep(1)); n != nil {
		old.Name = []fhir.HumanName{*n}
	} else {
		old.Name = x.patientRes.Name
	}
	inactive := false
	old.Active = &inactive
	old.Gender = x.patientRes.Gender
	old.Link = []fhir.PatientLink{{Other: *x.patientRef, Type: "replaced-by"}}
	if prev := x.patientEntry(*key); prev != nil {
		// An earlier group of this A40 wrote the record (100 into 200,
		// then 200 into 300): add keeps that entry, so it is the one
		// retired, keeping what it says and its replaces links, and
		// replaced-by the survivor the registry now ties it to.
		prev.Active = &inactive
		prev.Link = append(slices.DeleteFunc(prev.Link, func(l fhir.PatientLink) bool { return l.Type == "replaced-by" }), old.Link...)
	}
	ref := x.add("Patient", *key, old)
	// The survivor is x.patientID, after retie: a merge into a record
	// that was itself merged away goes on to the one that survived it.
	x.merges = append(x.merges, merge)
	// The registry may know this merge already (the A40 sent again):
	// replacesLinks then linked the record by id or identifier.
	x.patientRes.Link = slices.DeleteFunc(x.patientRes.Link, func(l fhir.PatientLink) bool {
		return l.Type == "replaces" && (l.Other.Reference != "" && l.Other.Reference == ref.Reference ||
			l.Other.Identifier != nil && l.Other.Identifier.System == key.System && l.Other.Identifier.Value == key.Value)
	})
	x.patientRes.Link = append(x.patientRes.Link, fhir.PatientLink{Other: ref, Type: "replaces"})
	x.focus = append(x.focus, ref)
	return nil
}

// clinicalSegments converts the AL1, DG1, PR1 and IN1 segments of an ADT,
// and its OBX (with their NTE) as Observations of the patient and the
// visit (the IG's ADT_A01 map: height, weight, a chief complaint taken at
// admission); a systolic and diastolic OBX of one time also make the
// blood pressure, as a report's do.
func (x *conv) clinicalSegments() error {
	var obs *obsBuilder
	var obx hl7v2.Segment
	var bp bpReadings
	closeObs := func() error {
		if obs == nil {
			return nil
		}
		ref, err := obs.finish(x)
		if err == nil {
			bp.reading(obs.o, ref, x.outsideStem(obx))
		}
		obs = nil
		return err
	}
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "NTE":
			if obs != nil {
				obs.note(seg)
			}
			continue
		case "PRT":
			continue // v2.7+ puts an OBX's participations before its NTE
		}
		if err := closeObs(); err != nil {
			return err
		}
		var err error
		switch seg.Name {
		case "AL1":
			err = x.allergy(seg)
		case "DG1":
			err = x.diagnosis(seg)
		case "PR1":
			err = x.procedure(seg)
		case "IN1":
			err = x.coverage(seg)
		case "OBX":
			obs, err = x.outsideObservation(seg)
			obx = seg
		}
		if err != nil {
			return err
		}
	}
	if err := closeObs(); err != nil {
		return err
	}
	bp.outside(x)
	return nil
}

// outsideObservation opens the Observation of an OBX outside any report
// (an ADT's, a VXU's), keyed as such an OBX is. Its category is left out
// unless its code is a vital sign: what an ADT or a VXU observes is no
// laboratory result. An encapsulated document (OBX-2 ED) is no
// Observation value in R4 and stays in the Binary (nil).
func (x *conv) outsideObservation(obx hl7v2.Segment) (*obsBuilder, error) {
	if strings.EqualFold(obx.Field(2).Text(1), "ED") {
		return nil, nil
	}
	b, err := x.newObservation(obx, nil)
	if err != nil {
		return nil, err
	}
	if !isVitalSign(&b.o.Code) {
		b.o.Category = nil
	}
	return b, nil
}

// scopedKey builds a business identifier for a resource that v2 gives no
// identifier of its own: the patient's key plus the distinguishing parts.
func (x *conv) scopedKey(kind string, parts ...string) fhir.Identifier {
	// Built in a stack buffer and carved from the text arena: one
	// concatenation per part would allocate each time.
	var stack [256]byte
	v := append(stack[:0], x.patientKey...)
	for _, p := range parts {
		if p != "" {
			v = append(v, '.')
			v = append(v, p...)
		}
	}
	return fhir.Identifier{System: x.system(kind), Value: x.slabs.text.bytes(v)}
}

// allergyCategory is the IG's ConceptMap
// table-hl70127-to-allergy-intolerance-category. MA (miscellaneous
// allergy) and MC (miscellaneous contraindication) name no category, so
// they get none rather than a guess; an animal allergy is biologic. Codes
// outside table 0127 that some senders use (DI, FI, EI, MI) are not in
// the map either and get no category; their last letter still gives the
// type.
var allergyCategory = map[string]string{
	"DA": "medication", "FA": "food", "EA": "environment",
	"AA": "biologic", "PA": "environment", "LA": "environment",
}

var allergySeverity = map[string]string{"SV": "severe", "MO": "moderate", "MI": "mild"}

// allergy converts AL1 to AllergyIntolerance.
func (x *conv) allergy(al1 hl7v2.Segment) error {
	code := x.cwe(al1.Field(3).Rep(1), "")
	if code == nil {
		return x.badField(al1, 3, "allergen is empty")
	}
	// The resource and its one-element lists: one allocation, not six.
	box := x.slabs.allergies.one()
	box.coding[0] = fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", Code: "active"}
	box.status.Coding = box.coding[:]
	a := &box.a
	*a = fhir.AllergyIntolerance{
		ResourceType:   "AllergyIntolerance",
		Patient:        x.patientRef,
		Code:           code,
		ClinicalStatus: &box.status,
	}
	typ := strings.ToUpper(al1.Field(2).Text(1))
	if c := allergyCategory[typ]; c != "" {
		box.category[0] = c
		a.Category = box.category[:]
	}
	switch {
	case strings.HasSuffix(typ, "A"):
		a.Type = "allergy"
	case strings.HasSuffix(typ, "I"):
		a.Type = "intolerance"
	}
	sev := allergySeverity[strings.ToUpper(al1.Field(4).Text(1))]
	var manifest []fhir.CodeableConcept
	for rep := range al1.Field(5).RepsSeq() {
		if t := rep.Trimmed(); t != "" {
			manifest = append(manifest, fhir.CodeableConcept{Text: t})
		}
	}
	if len(manifest) > 0 {
		box.reaction[0] = fhir.AllergyIntoleranceReaction{Manifestation: manifest, Severity: sev}
		a.Reaction = box.reaction[:]
	} else if sev == "severe" {
		a.Criticality = "high"
	}
	onset, err := x.fieldDateTime(al1, 6)
	if err != nil {
		return err
	}
	a.OnsetDateTime = onset
	key := x.scopedKey("allergy", orStr(firstCode(code), code.Text))
	if prev := x.allergyOf(key); prev != nil {
		// The allergen was listed already (the AL1 repeated, or
		// renumbered in AL1-1, which keys nothing): the key names the
		// patient's one record of it, which an A60 updates too, so this
		// AL1 adds what it says to that record instead of writing a
		// second one under an id minted from its place in the message.
		mergeAllergy(prev, a)
		return nil
	}
	box.ids[0] = key
	a.Identifier = box.ids[:]
	x.add("AllergyIntolerance", key, a)
	return nil
}

// allergyOf is the AllergyIntolerance this message already wrote under
// key, or nil.
func (x *conv) allergyOf(key fhir.Identifier) *fhir.AllergyIntolerance {
	var urn [urnLen]byte
	uuid5URN(&urn, "AllergyIntolerance", key.System, key.Value)
	for _, e := range x.entries {
		if e.FullURL == string(urn[:]) {
			a, _ := e.Resource.(*fhir.AllergyIntolerance)
			return a
		}
	}
	return nil
}

// mergeAllergy adds to a what b, another AL1 of the same allergen, says
// that a does not: a reaction a lacks, and a category, type, onset or
// criticality a has none of.
func mergeAllergy(a, b *fhir.AllergyIntolerance) {
	for _, r := range b.Reaction {
		if !slices.ContainsFunc(a.Reaction, func(o fhir.AllergyIntoleranceReaction) bool { return sameReaction(o, r) }) {
			a.Reaction = append(slices.Clip(a.Reaction), r)
		}
	}
	if len(a.Category) == 0 {
		a.Category = b.Category
	}
	if a.Type == "" {
		a.Type = b.Type
	}
	if a.OnsetDateTime == "" {
		a.OnsetDateTime = b.OnsetDateTime
	}
	if a.Criticality == "" {
		a.Criticality = b.Criticality
	}
}

// sameReaction reports whether two AL1 or IAM reactions (manifestations,
// a severity and IAR-4's description) say the same. An IAM's
// manifestations are coded, often without text, so the codes count too.
func sameReaction(a, b fhir.AllergyIntoleranceReaction) bool {
	return a.Severity == b.Severity && a.Description == b.Description &&
		slices.EqualFunc(a.Manifestation, b.Manifestation, func(x, y fhir.CodeableConcept) bool { return x.Text == y.Text && slices.Equal(x.Coding, y.Coding) })
}

// diagnosis converts DG1 to an encounter-diagnosis Condition and lists it
// on the Encounter.
func (x *conv) diagnosis(dg1 hl7v2.Segment) error {
	code := x.cwe(dg1.Field(3).Rep(1), "")
	if code == nil {
		if d := dg1.Field(4).Trimmed(); d != "" {
			code = &fhir.CodeableConcept{Text: d}
		} else {
			return x.badField(dg1, 3, "diagnosis code is empty")
		}
	}
	// The resource, its one-element lists and its line on the
	// Encounter: one allocation, not five.
	box := x.slabs.conditions.one()
	box.coding[0] = fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/condition-category", Code: "encounter-diagnosis", Display: "Encounter Diagnosis"}
	box.category[0] = fhir.CodeableConcept{Coding: box.coding[:]}
	c := &box.c
	*c = fhir.Condition{
		ResourceType: "Condition",
		Subject:      x.patientRef,
		Encounter:    x.encRef,
		Code:         code,
		Category:     box.category[:],
	}
	rec, err := x.fieldDateTime(dg1, 5)
	if err != nil {
		return err
	}
	c.RecordedDate = rec
	// DG1-16 repeats; Condition.asserter is 0..1: the first clinician.
	c.Asserter = x.practitioner(dg1.Field(16).Rep(1))
	var key fhir.Identifier
	if id := x.ei(dg1.Field(20), "", "diagnosis"); id != nil {
		key = *id
	} else {
		key = x.scopedKey("diagnosis", x.encKey.Value, orStr(firstCode(code), code.Text))
	}
	box.ids[0] = key
	c.Identifier = box.ids[:]
	// DG1-21 D (table 0206) deletes the diagnosis the sender sent before:
	// the IG writes it entered-in-error (ferry deletes nothing), and it is
	// no longer one of the encounter's diagnoses.
	deleted := strings.EqualFold(dg1.Field(21).Text(1), "D")
	if deleted {
		c.VerificationStatus = problemVerification["ENTERED-IN-ERROR"]
	}
	ref := x.add("Condition", key, c)
	if x.encRes != nil && !deleted {
		d := fhir.EncounterDiagnosis{Condition: ref}
		if u := x.tableCC(dg1.Field(6).Rep(1), "0052"); u != nil {
			d.Use = u
		}
		// Atoi("") is an error, and allocates one: most DG1 have no rank.
		if s := dg1.Field(15).Text(1); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				d.Rank = n
			}
		}
		x.encRes.Diagnosis = append(into(x.encRes.Diagnosis, box.diag[:]), d)
	}
	return nil
}

// procedure converts PR1 to a completed Procedure.
func (x *conv) procedure(pr1 hl7v2.Segment) error {
	code := x.cwe(pr1.Field(3).Rep(1), "")
	if code == nil {
		if d := pr1.Field(4).Trimmed(); d != "" {
			code = &fhir.CodeableConcept{Text: d}
		} else {
			return x.badField(pr1, 3, "procedure code is empty")
		}
	}
	when, err := x.fieldDateTime(pr1, 5)
	if err != nil {
		return err
	}
	p := &fhir.Procedure{ResourceType: "Procedure", Status: "completed", Code: code, Subject: x.patientRef, Encounter: x.encRef, PerformedDateTime: when}
	if when == "" {
		// US Core's us-core-7: "Performed SHALL be present if the
		// status is 'completed' or 'in-progress'"; a PR1 whose PR1-5
		// the sender left empty gives no time.
		p.PerformedDateTimeElement = fhir.AbsentPrimitive("unknown")
	}
	for rep := range pr1.Field(11).RepsSeq() {
		if ref := x.practitioner(rep); ref != nil {
			p.Performer = append(p.Performer, fhir.ProcedurePerformer{Actor: ref})
		}
	}
	var key fhir.Identifier
	if id := x.ei(pr1.Field(19), "", "procedure"); id != nil {
		key = *id
	} else {
		key = x.scopedKey("procedure", orStr(firstCode(code), code.Text), pr1.Field(5).Text(1))
	}
	p.Identifier = []fhir.Identifier{key}
	x.add("Procedure", key, p)
	return nil
}

var subscriberRelationship = map[string]string{
	"SEL": "self", "01": "spouse", "SPO": "spouse", "CHD": "child", "19": "child", "18": "self",
	"PAR": "parent", "FTH": "parent", "MTH": "parent", "DOM": "common", "EME": "injured",
}

// table0063Shaped reports whether code has the shape of every table 0063
// code: three upper-case letters.
func table0063Shaped(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return true
}

// coverage converts IN1 to Coverage.
func (x *conv) coverage(in1 hl7v2.Segment) error {
	payor := orStr(in1.Field(4).Rep(1).Text(1), in1.Field(3).Rep(1).Text(1))
	if payor == "" {
		// Coverage needs a payor; an IN1 naming none carries nothing a
		// receiver could use (the original message stays in the Binary).
		return nil
	}
	cov := &fhir.Coverage{
		ResourceType: "Coverage",
		Status:       "active",
		Beneficiary:  *x.patientRef,
		Payor:        []fhir.Reference{{Display: payor}},
		SubscriberID: orStr(in1.Field(49).Rep(1).Text(1), in1.Field(36).Text(1)),
	}
	// US Core Coverage.relationship is 1..1 (extensible binding): IN1-17
	// mapped to subscriber-relationship; a code the map does not know
	// kept as the sender's table 0063 code when it can be one (v2-0063 is
	// a complete, case-sensitive system of three-letter codes), else as
	// text (an X12 code such as 20 is none); none at all, unknown.
	in117 := in1.Field(17).Text(1)
	switch rel := subscriberRelationship[strings.ToUpper(in117)]; {
	case rel != "":
		cov.Relationship = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/subscriber-relationship", Code: rel}}}
	case in117 != "":
		cc := &fhir.CodeableConcept{Text: in1.Field(17).Text(2)}
		if code := strings.ToUpper(in117); table0063Shaped(code) {
			cc.Coding = []fhir.Coding{{System: v2Table + "0063", Code: code}}
		} else if cc.Text == "" {
			cc.Text = in117
		}
		cov.Relationship = cc
	default:
		u := fhir.UnknownConcept()
		cov.Relationship = &u
	}
	start, ok1 := x.date(in1.Field(12).Text(1))
	end, ok2 := x.date(in1.Field(13).Text(1))
	if !ok1 {
		return x.badField(in1, 12, "invalid plan effective date")
	}
	if !ok2 {
		return x.badField(in1, 13, "invalid plan expiration date")
	}
	if n := min(len(start), len(end)); n > 0 && end[:n] < start[:n] {
		end = "" // per-1: an end before the start says nothing sure
	}
	if start != "" || end != "" {
		cov.Period = &fhir.Period{Start: start, End: end}
	}
	if g := in1.Field(8).Text(1); g != "" {
		cov.Class = append(cov.Class, fhir.CoverageClass{Type: fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/coverage-class", Code: "group"}}}, Value: g, Name: in1.Field(9).Rep(1).Text(1)})
	}
	if plan := in1.Field(2).Rep(1).Text(1); plan != "" {
		cov.Class = append(cov.Class, fhir.CoverageClass{Type: fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/coverage-class", Code: "plan"}}}, Value: plan})
	}
	if n, err := strconv.Atoi(in1.Field(22).Text(1)); err == nil && n > 0 {
		cov.Order = n
	}
	key := x.scopedKey("coverage", sanitise(payor), orStr(in1.Field(36).Text(1), in1.Field(2).Rep(1).Text(1), in1.Field(1).Text(1)))
	cov.Identifier = []fhir.Identifier{key}
	x.add("Coverage", key, cov)
	return nil
}

// allergyBox is an AllergyIntolerance and its one-element lists.
type allergyBox struct {
	a        fhir.AllergyIntolerance
	status   fhir.CodeableConcept
	coding   [1]fhir.Coding
	category [1]string
	reaction [1]fhir.AllergyIntoleranceReaction
	ids      [1]fhir.Identifier
}

// conditionBox is a Condition, its one-element lists and its line on
// the Encounter.
type conditionBox struct {
	c        fhir.Condition
	category [1]fhir.CodeableConcept
	coding   [1]fhir.Coding
	ids      [1]fhir.Identifier
	diag     [1]fhir.EncounterDiagnosis
}
