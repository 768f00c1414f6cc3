package v2fhir

import (
	"slices"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

func init() {
	handlers["ADT^A45"] = (*conv).adt // move visit: the PV1 visit now belongs to the PID patient
	handlers["ADT^A47"] = (*conv).changeIdentifier
	handlers["ADT^A60"] = (*conv).adverseReactions
	handlers["ADT^A29"] = (*conv).deletePerson
	handlers["OMG^O19"] = (*conv).orders
	handlers["RDE^O25"] = (*conv).pharmacyOrders // refill authorization: RDE_O11's structure
	for _, t := range []string{"T01", "T05", "T07", "T09"} {
		handlers["MDM^"+t] = (*conv).document
	}
	handlers["MDM^T03"] = (*conv).documentStatus
	handlers["MDM^T11"] = (*conv).cancelDocument
}

// notificationOnly are the MDM events whose message structure (MDM_T01)
// has no OBX: they announce a document without carrying it.
var notificationOnly = map[string]bool{"T01": true, "T03": true, "T05": true, "T07": true, "T09": true}

// changeIdentifier converts ADT^A47: the PID patient's identifier MRG-1
// was replaced by the one in PID-3. The record written under the old
// identifier is marked inactive and replaced-by the PID patient (as for a
// merge), and the PID patient keeps the old identifier with use "old", so
// a search by the old number still finds it (not in the conditional
// modes, see ModePatientConditional). ADT_A30 holds one PID and its MRG,
// but some senders put several changes in one message (PID, MRG, PID,
// MRG, as an A40 repeats its patient groups): each pair is an identifier
// change of its own, and none is left unread.
func (x *conv) changeIdentifier() error {
	x.groupMRG, _ = x.firstMRG()
	if err := x.messagePatient(); err != nil {
		return err
	}
	mrg, ok := x.firstMRG()
	if !ok {
		return x.merge() // refused: the MRG is missing
	}
	pid, _ := x.m.Segment("PID")
	if err := x.changeOne(pid, mrg); err != nil {
		return err
	}
	return x.laterIdentifierChanges()
}

// changeOne converts one identifier change: mrg names the prior
// identifier of the current patient, written from pid.
func (x *conv) changeOne(pid, mrg hl7v2.Segment) error {
	if !x.changesKey(pid, mrg) {
		// Another of the patient's identifiers was corrected: the
		// record stays keyed as it was, written from the PID as an
		// update, and nothing is retired.
		x.reversing, x.groupMRG = false, hl7v2.Segment{}
		return nil
	}
	if err := x.mergeInto(mrg); err != nil {
		return err
	}
	if x.byURN("Patient") {
		// Patients are found by identifier at the exchange: the old number
		// must name only the replaced record, which links to this one.
		return nil
	}
	for _, rep := range mrg.Field(1).Reps() {
		if id := x.cx(rep); id != nil && id.System != sysSSN {
			id.Use = "old"
			x.patientRes.Identifier = append(x.patientRes.Identifier, *id)
		}
	}
	return nil
}

// laterIdentifierChanges converts what follows an A47's first PID and
// MRG: each later PID with the MRG after it is another identifier change
// (written as changeOne writes the first), and an MRG after its PID's
// first changes another identifier of that PID's patient. A PID without
// its MRG is refused rather than written as a plain update, which would
// acknowledge a change ferry did not make.
func (x *conv) laterIdentifierChanges() error {
	var pid, cur hl7v2.Segment // pid awaits its MRG; cur is the patient written last
	pids, grouped := 0, false
	missing := func(pid hl7v2.Segment) error {
		return &ContentError{Segment: "MRG", Pos: pid.Pos(), Field: "MRG", Reason: "required segment missing for an identifier change"}
	}
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "PID":
			if pid.Name != "" {
				return missing(pid)
			}
			pids++
			if pids == 1 {
				cur = seg // the message's patient, converted already
				continue
			}
			pid = seg
		case "MRG":
			switch {
			case pids == 0:
				continue
			case pid.Name == "" && pids == 1 && !grouped:
				grouped = true // the first MRG: changeIdentifier did it
				continue
			case pid.Name == "":
				// Another MRG of the patient written last.
				if err := x.changeOne(cur, seg); err != nil {
					return err
				}
				continue
			}
			x.groupMRG = seg
			ref, err := x.patient(pid)
			if err != nil {
				return err
			}
			x.patientRef = ref
			x.focus = append(x.focus, *ref)
			if err := x.changeOne(pid, seg); err != nil {
				return err
			}
			cur, pid = pid, hl7v2.Segment{}
		}
	}
	if pid.Name != "" {
		return missing(pid)
	}
	return nil
}

// changesKey reports whether an A47's MRG-1 names the identifier the
// PID patient's record is keyed by (patient: of PID-3, PID-2 and PID-4,
// the first of the highest keyRank). An A47 changes "a single PID-3 -
// Patient Identifier List value" (HL7 v2.5.1 3.3.47), MRG-1 giving the
// incorrect one and PID-3 the list as it is now, and that value may be
// another than the key: an SSN (which keys no record, and MRG-1 gives
// nothing else), or a number whose corrected value PID-3 lists beside
// the key (an identifier of MRG-1's authority and type that is not the
// key), or MRG-1 lists the key unchanged with the number that changed.
// Anything else (MRG-1's number of an authority or type PID-3 does not
// list) is taken for a change of the key, whose old record is retired.
func (x *conv) changesKey(pid, mrg hl7v2.Segment) bool {
	_, prior := x.mrgIdentifiers(mrg)
	if prior == nil {
		// MRG-1 names SSNs only, which key no record; naming nothing
		// at all, it is an error, which mergeInto reports.
		return !x.hasSSN(mrg.Field(1))
	}
	var key, target *fhir.Identifier
	for _, n := range [...]int{3, 2, 4} {
		for rep := range pid.Field(n).RepsSeq() {
			id, ok := x.cxValue(rep)
			if !ok || id.System == sysSSN {
				continue
			}
			if key == nil || keyRank(&id) > keyRank(key) {
				k := id
				key = &k
			}
			if target == nil && id.System == prior.System && typeCode(&id) == typeCode(prior) {
				t := id
				target = &t
			}
		}
	}
	switch {
	case key == nil:
		return true
	case prior.System == key.System && prior.Value == key.Value:
		return false
	case target != nil && (target.System != key.System || target.Value != key.Value):
		return false
	}
	return true
}

// typeCode is an identifier's v2-0203 type code, "" without one.
func typeCode(id *fhir.Identifier) string {
	if id.Type == nil || len(id.Type.Coding) == 0 {
		return ""
	}
	return id.Type.Coding[0].Code
}

// deletePerson converts ADT^A29 (delete person information, the reverse
// of an A28). ferry never deletes at the receiver: the Patient is
// rewritten from PID and marked inactive, which keeps its history and
// what references it intact. The visit in PV1 is not written (the event
// is about the person, not a visit).
func (x *conv) deletePerson() error {
	if err := x.messagePatient(); err != nil {
		return err
	}
	if x.curRetied {
		// The record PID-3 names was merged away, and is inactive
		// already; the survivor it was merged into is not deleted.
		return nil
	}
	inactive := false
	x.patientRes.Active = &inactive
	return nil
}

// allergySensitivity maps IAM-9 / IAR-3 (table 0436) to AllergyIntolerance.type.
var allergySensitivity = map[string]string{"AL": "allergy", "IN": "intolerance", "AD": "intolerance", "SE": "intolerance"}

// adverseReactions converts ADT^A60 (v2-to-FHIR "IAM to
// AllergyIntolerance"): the patient (and visit), then one
// AllergyIntolerance per IAM, with the NTE that follow it as notes and
// the IAR that follow it as reactions. The resource key is the same as an
// AL1's for that allergen, so an A60 update lands on the record an ADT's
// AL1 wrote; IAM-7 (the sender's allergy id) is kept as an identifier.
func (x *conv) adverseReactions() error {
	if err := x.patientContext(); err != nil {
		return err
	}
	// ADT_A60's adverse reaction group is optional: without IAM the
	// message still updates the patient and visit.
	var cur *fhir.AllergyIntolerance
	var curSev string
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "IAM":
			a, sev, err := x.iam(seg)
			if err != nil {
				return err
			}
			cur, curSev = a, sev
		case "NTE":
			if cur != nil {
				// An IAM repeated for its allergen repeats its NTE.
				if t := nteText(seg); t != "" && !slices.ContainsFunc(cur.Note, func(n fhir.Annotation) bool { return n.Text == t }) {
					cur.Note = append(cur.Note, fhir.Annotation{Text: t})
				}
			}
		case "IAR":
			if cur == nil {
				continue
			}
			m := x.cwe(seg.Field(1).Rep(1), "")
			if m == nil {
				continue // reaction.manifestation is required
			}
			sev := allergySeverity[strings.ToUpper(seg.Field(2).Text(1))]
			if sev == "" {
				sev = curSev
			}
			r := fhir.AllergyIntoleranceReaction{Manifestation: []fhir.CodeableConcept{*m}, Severity: sev, Description: seg.Field(4).Trimmed()}
			if !slices.ContainsFunc(cur.Reaction, func(o fhir.AllergyIntoleranceReaction) bool { return sameReaction(o, r) }) {
				cur.Reaction = append(cur.Reaction, r)
			}
		case "PID", "PV1":
			cur = nil
		}
	}
	return nil
}

// iam converts one IAM. IAM-17 (table 0438) sets the verification and
// clinical status; an IAM-6 action D (delete) or status E (erroneous)
// marks the record entered-in-error, which then carries no clinical status
// (FHIR invariant ait-2).
func (x *conv) iam(iam hl7v2.Segment) (*fhir.AllergyIntolerance, string, error) {
	code := x.cwe(iam.Field(3).Rep(1), "")
	if code == nil {
		return nil, "", x.badField(iam, 3, "allergen is empty")
	}
	a := &fhir.AllergyIntolerance{ResourceType: "AllergyIntolerance", Patient: x.patientRef, Encounter: x.encRef, Code: code}
	typ := strings.ToUpper(iam.Field(2).Text(1))
	if c := allergyCategory[typ]; c != "" {
		a.Category = []string{c}
	}
	switch {
	case allergySensitivity[strings.ToUpper(iam.Field(9).Text(1))] != "":
		a.Type = allergySensitivity[strings.ToUpper(iam.Field(9).Text(1))]
	case strings.HasSuffix(typ, "A"):
		a.Type = "allergy"
	case strings.HasSuffix(typ, "I"):
		a.Type = "intolerance"
	}
	clinical, verification := "active", ""
	switch strings.ToUpper(iam.Field(17).Text(1)) {
	case "C":
		verification = "confirmed"
	case "U", "P", "S":
		verification = "unconfirmed"
	case "I":
		verification, clinical = "confirmed", "inactive"
	case "E":
		verification, clinical = "entered-in-error", ""
	}
	if strings.ToUpper(iam.Field(6).Text(1)) == "D" {
		verification, clinical = "entered-in-error", ""
	}
	if clinical != "" {
		a.ClinicalStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", Code: clinical}}}
	}
	if verification != "" {
		a.VerificationStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", Code: verification}}}
	}
	sev := allergySeverity[strings.ToUpper(iam.Field(4).Text(1))]
	var manifest []fhir.CodeableConcept
	for _, rep := range iam.Field(5).Reps() {
		if cc := x.cwe(rep, ""); cc != nil {
			manifest = append(manifest, *cc)
		}
	}
	if len(manifest) > 0 {
		a.Reaction = []fhir.AllergyIntoleranceReaction{{Manifestation: manifest, Severity: sev}}
	} else if sev == "severe" {
		a.Criticality = "high"
	}
	var err error
	if a.OnsetDateTime, err = x.fieldDateTime(iam, 11); err != nil {
		return nil, "", err
	}
	if a.RecordedDate, err = x.fieldDateTime(iam, 13); err != nil {
		return nil, "", err
	}
	key := x.scopedKey("allergy", orStr(firstCode(code), code.Text))
	a.Identifier = []fhir.Identifier{key}
	if id := x.ei(iam.Field(7), "", "allergy-id"); id != nil {
		a.Identifier = append(a.Identifier, *id)
	}
	if prev := x.allergyOf(key); prev != nil {
		// The allergen was listed already (the IAM repeated, renumbered
		// in IAM-1, or a second reaction to it): the key names the
		// patient's one record of it, so this IAM updates that record
		// instead of writing a second one under an id minted from its
		// place in the message. The NTE and IAR that follow go where
		// the returned resource is.
		return mergeIAM(prev, a), sev, nil
	}
	x.focus = append(x.focus, x.add("AllergyIntolerance", key, a))
	return a, sev, nil
}

// mergeIAM folds b, a later IAM of the allergen a records, into a and
// returns what b's NTE and IAR belong to. An IAM deleting or marking
// erroneous one of the sender's records of the allergen (IAM-7) while
// another IAM keeps one does not take the patient's allergy away: the
// record is entered-in-error only if every IAM of it says so, and a
// deleted one adds nothing to a kept one.
func mergeIAM(a, b *fhir.AllergyIntolerance) *fhir.AllergyIntolerance {
	switch aErr, bErr := erroneous(a), erroneous(b); {
	case bErr && !aErr:
		return b // written nowhere: its notes and reactions are of the deleted record
	case aErr && !bErr:
		// The kept IAM is the record; it keeps the entry's id and key.
		id, meta, ids := a.ID, a.Meta, a.Identifier[:1:1]
		*a = *b
		a.ID, a.Meta, a.Identifier = id, meta, append(ids, b.Identifier[1:]...)
		return a
	}
	mergeAllergy(a, b)
	if a.Encounter == nil {
		a.Encounter = b.Encounter
	}
	if a.VerificationStatus == nil {
		a.VerificationStatus = b.VerificationStatus
	}
	if a.RecordedDate == "" {
		a.RecordedDate = b.RecordedDate
	}
	for _, id := range b.Identifier[1:] {
		if !slices.ContainsFunc(a.Identifier, func(o fhir.Identifier) bool { return o.System == id.System && o.Value == id.Value }) {
			a.Identifier = append(a.Identifier, id)
		}
	}
	return a
}

// erroneous reports whether an IAM's AllergyIntolerance is marked
// entered-in-error (IAM-6 D or IAM-17 E).
func erroneous(a *fhir.AllergyIntolerance) bool {
	v := a.VerificationStatus
	return v != nil && len(v.Coding) > 0 && v.Coding[0].Code == "entered-in-error"
}
