package v2fhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// Problem lists (HL7 v2 chapter 12, PPR_PC1). The v2-to-FHIR IG 1.0.0 has
// no message map for PPR and no segment map for PRB, so PRB follows the
// HL7 v2 mappings the FHIR R4 specification gives for Condition (code
// PRB-3, clinicalStatus PRB-14, verificationStatus PRB-13, category
// "problem" for a PRB, severity PRB-26, onset PRB-16) and US Core's
// Condition Problems and Health Concerns profile (category
// problem-list-item). PID, PV1, OBX and NTE use the IG's maps.
func init() {
	// PC1 add, PC2 update, PC3 delete: the same problem (PRB-4) always
	// maps to the same Condition, so each writes the resource PC1 did.
	for _, t := range []string{"PC1", "PC2", "PC3"} {
		handlers["PPR^"+t] = (*conv).problems
	}
}

// problemActions is table 0287 (PRB-1): add, correct, delete, link,
// unchanged, unlink, update.
var problemActions = map[string]bool{"AD": true, "CO": true, "DE": true, "LI": true, "UC": true, "UN": true, "UP": true}

// Condition status codes, shared and read-only (callers must not modify
// them): condition-clinical for PRB-14 and condition-ver-status for
// PRB-13, by their codes in upper case.
var (
	problemClinical     = statusConcepts("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "recurrence", "relapse", "inactive", "remission", "resolved")
	problemVerification = statusConcepts("http://terminology.hl7.org/CodeSystem/condition-ver-status", "unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error")
	problemListItem     = fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/condition-category", Code: "problem-list-item", Display: "Problem List Item"}}}
)

func statusConcepts(system string, codes ...string) map[string]*fhir.CodeableConcept {
	m := make(map[string]*fhir.CodeableConcept, len(codes))
	for _, c := range codes {
		m[strings.ToUpper(c)] = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: system, Code: c}}}
	}
	return m
}

// statusOf looks a coded status up by its code (CWE.1), else by its text
// (CWE.2): "A^Active" and "Active" both name active.
func statusOf(m map[string]*fhir.CodeableConcept, v hl7v2.Value) *fhir.CodeableConcept {
	if cc := m[strings.ToUpper(strings.TrimSpace(v.Text(1)))]; cc != nil {
		return cc
	}
	return m[strings.ToUpper(strings.TrimSpace(v.Text(2)))]
}

// problemGroup is one PROBLEM group of a PPR: the PRB, its NTE, the
// first person of its ROL segments and its PROBLEM_OBSERVATION OBX (with
// their NTE).
type problemGroup struct {
	prb   hl7v2.Segment
	notes []fhir.Annotation
	rol   hl7v2.Segment
	obs   []problemObs
}

type problemObs struct {
	obx   hl7v2.Segment
	notes []hl7v2.Segment
}

// problems converts PPR^PC1, PC2 and PC3: PID (required) to Patient, PV1
// to Encounter, and each PRB to a US Core problem-list-item Condition.
// In the PPR_PC1 structure a PROBLEM group is PRB [NTE] [VAR] [ROL [VAR]]
// [PTH [VAR]] [OBX [NTE]] [GOL ...] [ORC ...]: NTE directly after the PRB
// annotate the Condition, the first ROL naming a person is its recorder,
// and the OBX before any GOL or ORC (the problem's own observations) are
// written as Observations and listed as its evidence. Goals, pathways and
// orders under a problem have no map here and stay in the Binary.
func (x *conv) problems() error {
	if err := x.patientContext(); err != nil {
		return err
	}
	const (
		outside = iota
		inProblem
		inObservation
		elsewhere // a goal or order group under the problem
	)
	state := outside
	var groups []*problemGroup
	var cur *problemGroup
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "PRB":
			cur = &problemGroup{prb: seg}
			groups = append(groups, cur)
			state = inProblem
		case "NTE":
			switch state {
			case inProblem:
				if t := nteText(seg); t != "" {
					cur.notes = append(cur.notes, fhir.Annotation{Text: t})
				}
			case inObservation:
				o := &cur.obs[len(cur.obs)-1]
				o.notes = append(o.notes, seg)
			}
		case "ROL":
			if state == inProblem && cur.rol.Name == "" && !seg.Field(4).Empty() {
				cur.rol = seg
			}
		case "OBX":
			if state == inProblem || state == inObservation {
				cur.obs = append(cur.obs, problemObs{obx: seg})
				state = inObservation
			}
		case "VAR", "PTH":
			// variances and pathways: the group goes on
		case "GOL", "ORC", "OBR", "RXO", "ODS", "ODT":
			if state != outside {
				state = elsewhere
			}
		}
	}
	if len(groups) == 0 {
		return &ContentError{Segment: "PRB", Field: "PRB", Reason: "required segment missing"}
	}
	for _, g := range groups {
		if err := x.problem(g); err != nil {
			return err
		}
	}
	return nil
}

// problem writes one PROBLEM group's Condition (and its Observations).
//
// Deletion (PC3, or PRB-1 DE) keeps the record: the exchange holds what
// other systems may already have read, and a FHIR DELETE would drop the
// problem's history with it. The Condition is written again, under the
// same id, with verificationStatus entered-in-error, which is what FHIR
// has for "this record should not have existed" (the problem was listed
// in error, as a PC3 usually says), and without clinicalStatus, which
// con-5 forbids beside entered-in-error. A problem that was real and is
// over is not deleted but updated (PC2) to resolved or inactive.
//
// PRB-1 UC (unchanged) repeats a problem for context: it is referred to,
// not written (conv.addExisting), so the stored record is not replaced by
// the copy.
func (x *conv) problem(g *problemGroup) error {
	prb := g.prb
	action := strings.ToUpper(prb.Field(1).Text(1))
	if action != "" && !problemActions[action] {
		return x.badField(prb, 1, "invalid action code "+action+" (table 0287)")
	}
	deleted := action == "DE" || x.typ.Trigger == "PC3"
	code := x.cwe(prb.Field(3).Rep(1), "")
	if code == nil {
		return x.badField(prb, 3, "problem code is empty")
	}
	// PRB-4, the problem instance id, names the problem across PC1, PC2
	// and PC3; without a namespace it is scoped by the sending facility,
	// as placer and filler numbers are.
	key, ok := x.eiValue(prb.Field(4), "", "problem")
	if !ok {
		return x.badField(prb, 4, "problem instance identifier is empty")
	}
	c := &fhir.Condition{
		ResourceType: "Condition",
		Identifier:   []fhir.Identifier{key},
		Category:     []fhir.CodeableConcept{problemListItem},
		Code:         code,
		Subject:      x.patientRef,
		Encounter:    x.encRef,
		Severity:     x.cwe(prb.Field(26).Rep(1), ""),
		Note:         g.notes,
	}
	if cls := x.cwe(prb.Field(10).Rep(1), ""); cls != nil {
		c.Category = append(c.Category, *cls) // problem classification
	}
	var err error
	// PRB-7, when the caregiver established the problem, is when it was
	// recorded; PRB-2 is only the time of this message's action (MSH-7
	// and the Provenance say when the message was sent).
	if c.RecordedDate, err = x.fieldDateTime(prb, 7); err != nil {
		return err
	}
	if c.OnsetDateTime, err = x.fieldDateTime(prb, 16); err != nil {
		return err
	}
	if c.OnsetDateTime == "" {
		c.OnsetString = prb.Field(17).Trimmed() // onset text
	}
	// PRB-9 is the actual resolution date; PRB-8 (anticipated
	// resolution) has no Condition element.
	abatement, err := x.fieldDateTime(prb, 9)
	if err != nil {
		return err
	}
	clinical := statusOf(problemClinical, prb.Field(14).Rep(1))
	c.VerificationStatus = statusOf(problemVerification, prb.Field(13).Rep(1))
	if clinical == nil && c.VerificationStatus == nil {
		// Some senders put the life cycle status (active, resolved) in
		// PRB-13, the confirmation status: read it as what it says.
		clinical = statusOf(problemClinical, prb.Field(13).Rep(1))
	}
	switch {
	case deleted:
		c.VerificationStatus = problemVerification["ENTERED-IN-ERROR"]
		clinical = nil // con-5
	case clinical == nil && abatement != "":
		clinical = problemClinical["RESOLVED"] // an actual resolution date
	case clinical == nil:
		// con-3 wants a clinical status on a problem-list item that is
		// not in error; one sent to the list without a status is on it,
		// so active.
		clinical = problemClinical["ACTIVE"]
	}
	c.ClinicalStatus = clinical
	// R4's con-4 allows an abatement only beside a clinical status of
	// resolved, remission or inactive. An active, recurring or relapsed
	// problem with a resolution date resolved once and came back: the
	// date is of an earlier episode and is left out. So is it on a
	// problem deleted as entered in error, which has no clinical status
	// (con-5), and which con-4 has no exception for.
	switch {
	case clinical == problemClinical["RESOLVED"], clinical == problemClinical["REMISSION"], clinical == problemClinical["INACTIVE"]:
		c.AbatementDateTime = abatement
	}
	if g.rol.Name != "" {
		for rep := range g.rol.Field(4).RepsSeq() {
			if ref := x.practitioner(rep); ref != nil {
				c.Recorder = ref
				break
			}
		}
	}
	// PRB-25 (security/sensitivity, table 0177 like ORC-28) labels the
	// Condition and its Observations as ORC-28 labels an order group.
	x.orderSec = nil
	if f := prb.Field(25); !f.Empty() {
		l := newLabels()
		for i := 1; i <= f.NumReps(); i++ {
			x.addCWE(l, f.Rep(i), true, "prb-25")
		}
		if !l.Empty() {
			x.orderSec = l
		}
	}
	defer func() { x.orderSec = nil }()
	for _, po := range g.obs {
		ref, ok, err := x.problemObservation(po, key)
		if err != nil {
			return err
		}
		if ok {
			if c.Evidence == nil {
				c.Evidence = []fhir.ConditionEvidence{{}}
			}
			c.Evidence[0].Detail = append(c.Evidence[0].Detail, ref)
		}
	}
	var ref fhir.Reference
	if action == "UC" && !deleted {
		ref = x.addExisting("Condition", key, c)
	} else {
		ref = x.add("Condition", key, c)
	}
	x.focus = append(x.focus, ref)
	return nil
}

// problemObservation writes an OBX of a problem as an Observation (the
// IG's OBX map). Its category is left out: a problem's observation is
// not known to be a laboratory result. Without an OBX-21 identifier its
// key is minted from the problem's, so PC2 re-sending the observation
// updates the one PC1 wrote. An encapsulated document (OBX-2 ED) is no
// Observation value in R4 and stays in the Binary.
func (x *conv) problemObservation(po problemObs, problem fhir.Identifier) (fhir.Reference, bool, error) {
	obx := po.obx
	if strings.EqualFold(obx.Field(2).Text(1), "ED") {
		return fhir.Reference{}, false, nil
	}
	b, err := x.newObservation(obx, nil)
	if err != nil {
		return fhir.Reference{}, false, err
	}
	b.o.Category = nil
	if obx.Field(21).Empty() {
		v := problem.Value + "." + orStr(firstCode(&b.o.Code), b.o.Code.Text)
		if sub := obx.Field(4).Text(1); sub != "" {
			v += "." + sub
		}
		b.keys[0] = fhir.Identifier{System: problem.System + ":obx", Value: v}
	}
	for _, nte := range po.notes {
		b.note(nte)
	}
	ref, err := b.finish(x)
	return ref, err == nil, err
}
