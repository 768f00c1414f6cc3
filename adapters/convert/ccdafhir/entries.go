package ccdafhir

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// claimEntry claims the identity of a resource made from the clinical
// statement a; within names what the statement is part of, or is "". A
// statement without a usable id (or whose id another resource of the type
// took) gets one minted from entryKey, so a replacement of the document
// that carries the same entry lands on the same resource.
func (c *converter) claimEntry(typ string, a *act, within string) (identity, []fhir.Identifier, bool) {
	ids := identifiers(a.ID)
	synth := ""
	if len(ids) == 0 || c.seen[typ+"|"+ids[0].System+"|"+ids[0].Value] {
		synth = c.entryKey(typ, a, within)
	}
	return c.claim(typ, ids, synth, false)
}

// status is the lower-case statusCode of a statement.
func status(a *act) string {
	if a == nil || a.StatusCode == nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(a.StatusCode.Code))
}

// negated reports negationInd="true".
func negated(a *act) bool { return boolAttr(a.NegationInd) }

// related yields the nested statements of a, with their element names.
func related(a *act, fn func(i int, r *relationship, s *act, el string)) {
	for i := range a.EntryRelationship {
		r := &a.EntryRelationship[i]
		if s, el := r.statement(); s != nil {
			fn(i, r, s, el)
		}
	}
}

// firstValueConcept returns the first coded value of a statement.
func firstValueConcept(a *act) *fhir.CodeableConcept {
	for i := range a.Value {
		if cc := concept(a.Value[i].asCD()); cc != nil {
			return cc
		}
	}
	return nil
}

// indications collects Indication (4.19) values as reason codes. A
// Priority Preference (4.143), which senders put under RSON too, says how
// urgent the act is, not why: it is no reason.
func indications(a *act) []fhir.CodeableConcept {
	var out []fhir.CodeableConcept
	related(a, func(_ int, r *relationship, s *act, el string) {
		if el == "observation" && !hasTemplate(s.TemplateID, tplImmRefusal) && !hasTemplate(s.TemplateID, tplPriorityPref) &&
			(hasTemplate(s.TemplateID, tplIndication) || r.TypeCode == "RSON") {
			if cc := firstValueConcept(s); cc != nil {
				out = append(out, *cc)
			} else if cc := concept(s.Code); cc != nil && r.TypeCode == "RSON" {
				out = append(out, *cc)
			}
		}
	})
	return out
}

// ---- Allergies (Allergy Concern Act 4.30 / Allergy Intolerance Observation 4.7)

// allergyTypes maps the allergy observation value (type of reaction) to
// AllergyIntolerance.type and category.
var allergyTypes = map[string][2]string{
	"419199007": {"allergy", ""},
	"416098002": {"allergy", "medication"},
	"414285001": {"allergy", "food"},
	"426232007": {"allergy", "environment"},
	"59037007":  {"intolerance", "medication"},
	"235719002": {"intolerance", "food"},
	"420134006": {"", ""},
	"418038007": {"", ""},
	"419511003": {"", "medication"},
	"418471000": {"", "food"},
	"232347008": {"", "environment"},
	"418545001": {"allergy", "environment"},
}

// noKnown maps the allergy observation value of a negated, substance-less
// observation to the SNOMED "no known ..." code FHIR uses instead (C-CDA on
// FHIR ConceptMap CF-NoKnownAllergies; environmental added). Other values
// fall back to 716186003 "No known allergy".
var noKnown = map[string][2]string{
	"416098002": {"409137002", "No known drug allergy"},
	"414285001": {"429625007", "No known food allergy"},
	"419199007": {"716186003", "No known allergy"},
	"426232007": {"428607008", "No known environmental allergy"},
}

// anySubstance maps the SNOMED classes senders name as the substance of a
// negated allergy observation to say "any substance of this kind" (HL7's
// own R2.1 CCD example: 105590001 "Substance") to the allergy type whose
// noKnown code that negation means (C-CDA on FHIR: a negated populated
// substance maps to its negated concept).
var anySubstance = map[string]string{
	"105590001": "419199007", // Substance
	"410942007": "416098002", // Drug or medicament
	"255620007": "414285001", // Food
}

func (c *converter) allergyConcern(a *act) {
	n := 0
	var taken []string
	related(a, func(i int, _ *relationship, s *act, el string) {
		switch {
		case el != "observation":
		case allergyPart(s):
			// A severity, reaction, criticality or status observation
			// put on the concern (HL7's own R2.1 examples place the
			// Severity Observation there): it describes the allergy
			// beside it and is no allergy of its own, which would reach
			// the exchange as an AllergyIntolerance without a substance.
			// The allergy takes a severity or criticality (see allergy).
			if concernSeverity(s) || hasTemplate(s.TemplateID, tplCriticality) {
				taken = append(taken, "allergy concern "+skipKey(s.TemplateID, el))
			} else {
				c.skip("allergy concern " + skipKey(s.TemplateID, el))
			}
		default:
			n++
			if s.Subject.other() {
				c.skip("allergy concern observation about another subject")
				return
			}
			c.push("entryRelationship[" + strconv.Itoa(i+1) + "]")
			c.allergy(s, a)
			c.pop()
		}
	})
	if n == 0 {
		c.skip("allergy concern without observation")
		for _, k := range taken {
			c.skip(k)
		}
	}
}

// concernSeverity reports a Severity Observation standing on an Allergy
// Concern Act.
func concernSeverity(x *act) bool {
	return !hasTemplate(x.TemplateID, tplAllergyObs) &&
		(hasTemplate(x.TemplateID, tplSeverity) || hasCode(x.Code, "2.16.840.1.113883.5.4", "SEV"))
}

// criticalityOf maps a Criticality Observation value; "" if unknown.
func criticalityOf(s *act) string {
	for _, v := range s.Value {
		switch v.Code {
		case "CRITH":
			return "high"
		case "CRITL":
			return "low"
		case "CRITU":
			return "unable-to-assess"
		}
	}
	return ""
}

// allergyPart reports whether an observation in an Allergy Concern Act
// is one of the parts of an allergy rather than an Allergy-Intolerance
// Observation.
func allergyPart(x *act) bool {
	if hasTemplate(x.TemplateID, tplAllergyObs) {
		return false
	}
	for _, t := range []string{tplSeverity, tplReaction, tplCriticality, tplAllergyStatus} {
		if hasTemplate(x.TemplateID, t) {
			return true
		}
	}
	return hasCode(x.Code, "2.16.840.1.113883.5.4", "SEV")
}

func (c *converter) allergy(o *act, concern *act) {
	idn, ids, fresh := c.claimEntry("AllergyIntolerance", o, "")
	if !fresh {
		return
	}
	r := &fhir.AllergyIntolerance{ResourceType: "AllergyIntolerance", ID: idn.id, Identifier: ids, Patient: c.subject()}
	valueCode := ""
	for _, v := range o.Value {
		if v.CodeSystem == "2.16.840.1.113883.6.96" && v.Code != "" {
			valueCode = v.Code
			break
		}
	}
	if t, ok := allergyTypes[valueCode]; ok {
		r.Type = t[0]
		if t[1] != "" {
			r.Category = []string{t[1]}
		}
	}
	// The substance is the consumable participant's playing entity.
	var substance *fhir.CodeableConcept
	for _, p := range o.Participant {
		if p.ParticipantRole == nil || p.ParticipantRole.PlayingEntity == nil {
			continue
		}
		pe := p.ParticipantRole.PlayingEntity
		substance = concept(pe.Code)
		if substance == nil {
			for _, n := range pe.Name {
				if s := clean(n.Text); s != "" {
					substance = &fhir.CodeableConcept{Text: s}
					break
				}
			}
		}
		if substance != nil {
			break
		}
	}
	nkType := valueCode
	if negated(o) && substance != nil && len(substance.Coding) > 0 && substance.Coding[0].System == sysSCT {
		if t, ok := anySubstance[substance.Coding[0].Code]; ok {
			// No allergy to any substance of the class: the value
			// may name the kind (a drug allergy), else the class does.
			substance = nil
			if _, ok := noKnown[valueCode]; !ok || valueCode == "419199007" {
				nkType = t
			}
		}
	}
	verification := "confirmed"
	switch {
	case negated(o) && substance == nil:
		code := [2]string{"716186003", "No known allergy"}
		if nk, ok := noKnown[nkType]; ok {
			code = nk
		}
		r.Code = simpleConcept(sysSCT, code[0], code[1])
	case negated(o):
		verification = "refuted"
		r.Code = substance
	case substance != nil:
		r.Code = substance
	default:
		// R2.1 also allows the "no known" code as the observation value.
		if cc := firstValueConcept(o); cc != nil && (hasValueCode(o, "716186003") || hasValueCode(o, "409137002") || hasValueCode(o, "429625007")) {
			r.Code = cc
		}
	}
	if r.Code == nil {
		// US Core AllergyIntolerance.code is 1..1: an allergy whose
		// substance the document does not name (a nullFlavor
		// playingEntity) is an allergy to something unknown.
		u := fhir.UnknownConcept()
		r.Code = &u
	}
	clinical := ""
	var severity string
	related(o, func(i int, rel *relationship, s *act, el string) {
		if el != "observation" {
			return
		}
		switch {
		case hasTemplate(s.TemplateID, tplAllergyStatus) || hasCode(s.Code, "2.16.840.1.113883.6.1", "33999-4"):
			clinical = clinicalFromStatusObs(s)
		case hasTemplate(s.TemplateID, tplCriticality):
			if v := criticalityOf(s); v != "" {
				r.Criticality = v
			}
		case hasTemplate(s.TemplateID, tplSeverity) || rel.TypeCode == "SUBJ" && hasCode(s.Code, "2.16.840.1.113883.5.4", "SEV"):
			severity = severityOf(s)
		case hasTemplate(s.TemplateID, tplReaction) || rel.TypeCode == "MFST":
			if rx, ok := c.reaction(s); ok {
				r.Reaction = append(r.Reaction, rx)
			}
		}
	})
	if concern != nil {
		// A severity or criticality on the concern (C-CDA: "When the
		// Severity Observation is associated directly with an allergy
		// it characterizes the allergy") counts as the allergy's own
		// when the allergy gives none.
		related(concern, func(_ int, _ *relationship, s *act, el string) {
			switch {
			case el != "observation":
			case concernSeverity(s):
				if severity == "" {
					severity = severityOf(s)
				}
			case hasTemplate(s.TemplateID, tplCriticality) && !hasTemplate(s.TemplateID, tplAllergyObs):
				if r.Criticality == "" {
					r.Criticality = criticalityOf(s)
				}
			}
		})
	}
	if severity != "" {
		for i := range r.Reaction {
			if r.Reaction[i].Severity == "" {
				r.Reaction[i].Severity = severity
			}
		}
	}
	// The effectiveTime/high is the definitive sign of resolution, sent
	// as nullFlavor UNK when its date is unknown (C-CDA 4.7), as for a
	// Problem Observation: it outranks a status observation saying active.
	e := firstEffective(o.EffectiveTime)
	ended := e != nil && c.tsValue(e.High) != "" || resolvedDateUnknown(o)
	switch {
	case ended && (clinical == "" || clinical == "active"):
		clinical = "resolved"
	case clinical != "":
	case status(concern) == "completed" || status(concern) == "suspended" || status(concern) == "aborted":
		// The concern's statusCode (ProblemAct statusCode: active,
		// suspended, aborted, completed) says whether it is still
		// tracked; all but active are inactive (C-CDA on FHIR
		// CF-ConditionClinicalStatus).
		clinical = "inactive"
	default:
		clinical = "active"
	}
	r.ClinicalStatus = simpleConcept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", clinical, "")
	r.VerificationStatus = simpleConcept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", verification, "")
	if pt, per := c.when(firstEffective(o.EffectiveTime)); pt != "" {
		r.OnsetDateTime = pt
	} else if per != nil && per.Start != "" {
		r.OnsetDateTime = per.Start
	}
	rec, t := c.authorRef(o.Author)
	if rec == nil && concern != nil {
		rec, t = c.authorRef(concern.Author)
	}
	r.Recorder, r.RecordedDate = rec, t
	r.Note = notes(o)
	c.add(idn, r)
}

// hasValueCode reports whether any value of a has the code.
func hasValueCode(a *act, code string) bool {
	for _, v := range a.Value {
		if v.Code == code {
			return true
		}
	}
	return false
}

// problemStatuses are the Problem Status Observation values C-CDA on
// FHIR's CF-ProblemStatus maps to Condition clinical statuses that an
// AllergyIntolerance does not have.
var problemStatuses = map[string]string{"246455001": "recurrence", "263855007": "relapse", "277022003": "remission"}

// clinicalFromStatusObs maps an Allergy/Problem Status Observation value.
func clinicalFromStatusObs(s *act) string {
	for _, v := range s.Value {
		switch v.Code {
		case "55561003":
			return "active"
		case "73425007":
			return "inactive"
		case "413322009":
			return "resolved"
		}
	}
	return ""
}

// severityOf maps a Severity Observation value to mild/moderate/severe.
func severityOf(s *act) string {
	for _, v := range s.Value {
		switch v.Code {
		case "255604002":
			return "mild"
		case "6736007", "371923003":
			return "moderate"
		case "24484000", "371924009", "399166001":
			return "severe"
		}
	}
	return ""
}

// reaction maps a Reaction Observation; FHIR needs a manifestation. A
// negated one (negationInd="true") says the reaction did not happen, and
// FHIR's reaction has no negation: it is counted as not converted.
func (c *converter) reaction(s *act) (fhir.AllergyIntoleranceReaction, bool) {
	if negated(s) {
		c.skip("negated " + skipKey(s.TemplateID, "observation"))
		return fhir.AllergyIntoleranceReaction{}, false
	}
	m := firstValueConcept(s)
	if m == nil {
		return fhir.AllergyIntoleranceReaction{}, false
	}
	rx := fhir.AllergyIntoleranceReaction{Manifestation: []fhir.CodeableConcept{*m}}
	if pt, per := c.when(firstEffective(s.EffectiveTime)); pt != "" {
		rx.Onset = pt
	} else if per != nil {
		rx.Onset = per.Start
	}
	related(s, func(_ int, _ *relationship, x *act, el string) {
		if el == "observation" && hasTemplate(x.TemplateID, tplSeverity) {
			rx.Severity = severityOf(x)
		}
	})
	return rx, true
}

// ---- Problems (Problem Concern Act 4.3 / Problem Observation 4.4)

func (c *converter) problemConcern(a *act, s *section) {
	n := 0
	related(a, func(i int, _ *relationship, x *act, el string) {
		switch {
		case el != "observation" || hasTemplate(x.TemplateID, tplProblemStatus):
		case concernProblem(x):
			n++
			if x.Subject.other() {
				// A relative's problem the EHR lists with the patient's.
				c.skip("concern observation about another subject")
				return
			}
			c.push("entryRelationship[" + strconv.Itoa(i+1) + "]")
			c.condition(x, a, categoryFor(s))
			c.pop()
		default:
			c.skip("concern " + skipKey(x.TemplateID, el))
		}
	})
	if n == 0 {
		c.skip("problem concern without observation")
	}
}

// notProblems are observations a Problem or Health Concern act refers to
// that are about the concern, not a condition of the patient: its
// priority (Priority Preference), status, health status and prognosis.
var notProblems = []string{tplPriorityPref, tplProblemStatus, tplHealthStatus, tplPrognosis}

// concernProblem reports whether an observation in a concern act is a
// condition: a Problem Observation, or (R1.1 and vendor documents without
// that template) one whose value is a code, the finding. Observations with
// a quantity or text value (a lab result, an assessment score) would make
// a Condition coded with the test's own code.
func concernProblem(x *act) bool {
	if hasTemplate(x.TemplateID, tplProblemObs) {
		return true
	}
	for _, t := range notProblems {
		if hasTemplate(x.TemplateID, t) {
			return false
		}
	}
	return firstValueConcept(x) != nil
}

// diagnosisAct maps a hospital admission/discharge or pre/post-procedure
// diagnosis act: its problem observations become encounter diagnoses of
// the document's encompassing encounter.
func (c *converter) diagnosisAct(a *act) {
	prev := c.curEncounter
	if prev == "" {
		c.curEncounter = c.encounter
	}
	n := 0
	related(a, func(i int, _ *relationship, x *act, el string) {
		if el == "observation" {
			n++
			c.push("entryRelationship[" + strconv.Itoa(i+1) + "]")
			c.condition(x, a, "encounter-diagnosis")
			c.pop()
		}
	})
	c.curEncounter = prev
	if n == 0 {
		c.skip("diagnosis act without observation")
	}
}

// condition maps a Problem Observation; it returns the reference.
func (c *converter) condition(o *act, concern *act, category string) string {
	idn, ids, fresh := c.claimEntry("Condition", o, "")
	if !fresh {
		return idn.ref
	}
	r := &fhir.Condition{ResourceType: "Condition", ID: idn.id, Identifier: ids, Subject: c.subject()}
	catSys := "http://terminology.hl7.org/CodeSystem/condition-category"
	if category == "health-concern" {
		catSys = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
	}
	r.Category = []fhir.CodeableConcept{*simpleConcept(catSys, category, "")}
	r.Code = firstValueConcept(o)
	verification := "confirmed"
	if negated(o) {
		if r.Code == nil || hasValueCode(o, "55607006") {
			r.Code = simpleConcept(sysSCT, "160245001", "No current problems or disability")
		} else {
			verification = "refuted"
		}
	}
	if r.Code == nil && !problemType(o.Code) {
		r.Code = concept(o.Code)
	}
	if r.Code == nil {
		// US Core Condition.code is 1..1: a problem the document does
		// not code is unknown, not its type ("Diagnosis").
		u := fhir.UnknownConcept()
		r.Code = &u
	}
	pt, per := c.when(firstEffective(o.EffectiveTime))
	if pt != "" {
		r.OnsetDateTime = pt
	} else if per != nil {
		r.OnsetDateTime, r.AbatementDateTime = per.Start, per.End
	}
	clinical := ""
	related(o, func(_ int, _ *relationship, x *act, el string) {
		if el == "observation" && (hasTemplate(x.TemplateID, tplProblemStatus) || hasCode(x.Code, "2.16.840.1.113883.6.1", "33999-4")) {
			clinical = clinicalFromStatusObs(x)
			for _, v := range x.Value {
				if st, ok := problemStatuses[v.Code]; ok && clinical == "" {
					clinical = st
				}
			}
		}
	})
	if clinical == "" {
		switch {
		case r.AbatementDateTime != "":
			clinical = "resolved"
		case status(concern) == "completed":
			clinical = "resolved"
		case status(concern) == "suspended" || status(concern) == "aborted":
			// CF-ConditionClinicalStatus: a concern stopped before it
			// was completed is no longer tracked, inactive.
			clinical = "inactive"
		default:
			clinical = "active"
		}
	}
	// The effectiveTime/high is the definitive sign of resolution; C-CDA
	// sends it as nullFlavor UNK when the date of resolution is unknown.
	// FHIR's con-4 allows an abated condition no active, relapse or
	// recurrence either.
	if (r.AbatementDateTime != "" || resolvedDateUnknown(o)) && (clinical == "active" || clinical == "relapse" || clinical == "recurrence") {
		clinical = "resolved"
	}
	r.ClinicalStatus = simpleConcept("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical, "")
	r.VerificationStatus = simpleConcept("http://terminology.hl7.org/CodeSystem/condition-ver-status", verification, "")
	rec, t := c.authorRef(o.Author)
	if rec == nil && concern != nil {
		rec, t = c.authorRef(concern.Author)
	}
	r.Recorder, r.RecordedDate = rec, t
	if len(o.TargetSiteCode) > 0 {
		r.BodySite = concepts(o.TargetSiteCode)
	}
	if c.curEncounter != "" {
		r.Encounter = &fhir.Reference{Reference: c.curEncounter}
	}
	r.Note = notes(o)
	c.add(idn, r)
	return idn.ref
}

// problemTypes is C-CDA's Problem Type value set, the codes a Problem
// Observation's code takes (SNOMED CT, and the LOINC codes R2.1 uses
// since 2015): what kind of problem its value is, never the problem.
var problemTypes = map[string]bool{
	"2.16.840.1.113883.6.96|55607006":  true, // Problem
	"2.16.840.1.113883.6.96|404684003": true, // Clinical finding
	"2.16.840.1.113883.6.96|409586006": true, // Complaint
	"2.16.840.1.113883.6.96|282291009": true, // Diagnosis
	"2.16.840.1.113883.6.96|64572001":  true, // Condition
	"2.16.840.1.113883.6.96|248536006": true, // Functional limitation
	"2.16.840.1.113883.6.96|418799008": true, // Symptom
	"2.16.840.1.113883.6.1|75326-9":    true, // Problem
	"2.16.840.1.113883.6.1|75325-1":    true, // Symptom
	"2.16.840.1.113883.6.1|75324-4":    true, // Functional performance
	"2.16.840.1.113883.6.1|75323-6":    true, // Condition
	"2.16.840.1.113883.6.1|75322-8":    true, // Complaint
	"2.16.840.1.113883.6.1|75321-0":    true, // Clinical finding
	"2.16.840.1.113883.6.1|29308-4":    true, // Diagnosis
}

// problemType reports whether x, a Problem Observation's code, is a
// problem type (or ASSERTION, as R1.1 vendors write it).
func problemType(x *cd) bool {
	if x == nil {
		return false
	}
	for _, y := range append([]cd{*x}, x.Translation...) {
		code := strings.TrimSpace(y.Code)
		if problemTypes[strings.TrimSpace(y.CodeSystem)+"|"+code] || code == "ASSERTION" {
			return true
		}
	}
	return false
}

// resolvedDateUnknown reports a Problem Observation whose effectiveTime
// has a high with nullFlavor UNK: resolved at an unknown date.
func resolvedDateUnknown(o *act) bool {
	e := firstEffective(o.EffectiveTime)
	return e != nil && e.High != nil && strings.EqualFold(strings.TrimSpace(e.High.NullFlavor), "UNK")
}

// ---- Medications (Medication Activity 4.16, Planned Medication 4.42)

func (c *converter) medication(a *act, s *section) {
	c.medicationIn(a, s, false)
}

// medicationIn maps a Medication Activity; discharge says a Discharge
// Medication act (4.35) holds it.
func (c *converter) medicationIn(a *act, s *section, discharge bool) {
	med := c.medicationProduct(a.Consumable, a.AdministrationUnitCode)
	dosage := c.dosage(a)
	reasons := indications(a)
	by, when := c.authorRef(a.Author)
	st := status(a)
	mood := strings.ToUpper(a.MoodCode)
	evn := mood == "EVN" || (mood == "" && s.kind != secPlan)
	if evn && !c.opts.MedicationRequestsOnly {
		idn, ids, fresh := c.claimEntry("MedicationStatement", a, "")
		if !fresh {
			return
		}
		r := &fhir.MedicationStatement{ResourceType: "MedicationStatement", ID: idn.id, Identifier: ids,
			Status: medStatementStatus(st, negated(a)), Subject: c.subject(), ReasonCode: reasons,
			DateAsserted: when, InformationSource: by}
		r.MedicationReference, r.MedicationCodeableConcept = med.ref, med.cc
		pt, per := c.when(firstEffective(a.EffectiveTime))
		r.EffectiveDateTime, r.EffectivePeriod = pt, per
		if dosage != nil {
			r.Dosage = []fhir.Dosage{*dosage}
		}
		c.add(idn, r)
		return
	}
	idn, ids, fresh := c.claimEntry("MedicationRequest", a, "")
	if !fresh {
		return
	}
	intent := "order"
	switch {
	case evn || s.kind == secPlan || hasTemplate(a.TemplateID, tplPlannedMed):
		// C-CDA on FHIR ConceptMap CF-MedActivityMood: EVN → plan.
		intent = "plan"
	case mood == "PRP" || mood == "PRMS":
		intent = "proposal"
	}
	r := &fhir.MedicationRequest{ResourceType: "MedicationRequest", ID: idn.id, Identifier: ids,
		Status: medRequestStatus(st), Intent: intent, Subject: c.subject(), ReasonCode: reasons,
		AuthoredOn: when, Requester: by}
	if negated(a) {
		r.DoNotPerform = ptr(true)
	}
	if discharge || dischargeSection(s) {
		// US Core MedicationRequest.category: "discharge", requests
		// for medications created when the patient is being released.
		r.Category = []fhir.CodeableConcept{*simpleConcept("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "discharge", "Discharge")}
	}
	r.MedicationReference, r.MedicationCodeableConcept = med.ref, med.cc
	// The effectiveTime is when the medicine is to be taken: a dosage of
	// its own when the activity gives nothing else of one. C-CDA on FHIR
	// (CF-medications): its @value is timing.event, a time to take it
	// at, and low and high are timing.repeat.boundsPeriod.
	if pt, per := c.when(firstEffective(a.EffectiveTime)); per != nil || pt != "" {
		if dosage == nil {
			dosage = &fhir.Dosage{}
		}
		if dosage.Timing == nil {
			dosage.Timing = &fhir.Timing{}
		}
		if per == nil {
			dosage.Timing.Event = []string{pt}
		} else {
			if dosage.Timing.Repeat == nil {
				dosage.Timing.Repeat = &fhir.TimingRepeat{}
			}
			dosage.Timing.Repeat.BoundsPeriod = per
		}
	}
	if dosage != nil {
		r.DosageInstruction = []fhir.Dosage{*dosage}
	}
	var sup fhir.MedicationRequestSupply
	if a.RepeatNumber != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(a.RepeatNumber.Value)); err == nil && n >= 1 {
			sup.NumberOfRepeatsAllowed = ptr(n - 1)
		}
	}
	related(a, func(_ int, _ *relationship, x *act, el string) {
		if el == "supply" && hasTemplate(x.TemplateID, tplMedSupplyOrder) {
			if q := pqQuantity(x.Quantity); q != nil && sup.Quantity == nil {
				sup.Quantity = q
			}
		}
	})
	if sup.NumberOfRepeatsAllowed != nil || sup.Quantity != nil {
		r.DispenseRequest = &sup
	}
	c.add(idn, r)
}

// medicationAct maps a Discharge Medication (4.35) or Admission
// Medication (4.36) act: a wrapper whose Medication Activities are the
// medications themselves.
func (c *converter) medicationAct(a *act, s *section) {
	n := 0
	related(a, func(i int, _ *relationship, x *act, el string) {
		if el == "substanceAdministration" {
			n++
			c.push("entryRelationship[" + strconv.Itoa(i+1) + "]")
			c.medicationIn(x, s, hasTemplate(a.TemplateID, tplDischargeMed))
			c.pop()
		}
	})
	if n == 0 {
		c.skip("medication act without substanceAdministration")
	}
}

// medRef is a medication as a reference or, lacking a product, a concept.
type medRef struct {
	ref *fhir.Reference
	cc  *fhir.CodeableConcept
}

// medicationProduct maps a consumable to a shared Medication resource,
// of the form unit, the activity's administrationUnitCode (C-CDA on FHIR:
// "/administrationUnitCode" is "Medication.form"; the unit of a dose of
// 2 puffs). Medication[x] is required, so a missing product gives the
// data-absent-reason "unknown" concept.
func (c *converter) medicationProduct(h *productHolder, unit *cd) medRef {
	unknown := medRef{cc: simpleConcept("http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown", "Unknown")}
	if h == nil || h.ManufacturedProduct == nil || h.ManufacturedProduct.ManufacturedMaterial == nil {
		return unknown
	}
	mp := h.ManufacturedProduct
	mm := mp.ManufacturedMaterial
	code := concept(mm.Code)
	if code == nil {
		if n := clean(mm.Name); n != "" {
			code = &fhir.CodeableConcept{Text: n}
		}
	}
	if code == nil {
		return unknown
	}
	synth := "medication"
	for _, x := range code.Coding {
		synth += "|" + x.System + "#" + x.Code
	}
	lot := clean(mm.LotNumberText)
	synth += "|" + code.Text + "|" + lot
	// The product's id does not key it: senders copy HL7's examples,
	// which give one id to every product (Proventil and Atenolol), so
	// the id would make one Medication of two drugs, and write one
	// patient's drug over another's at the exchange. What the product
	// is keys it, within the document's set; its ids stay identifiers
	// of the first product of the document that gives them.
	idn, ids, fresh := c.claim("Medication", nil, synth, true)
	if fresh {
		var own []fhir.Identifier
		for _, id := range identifiers(mp.ID) {
			if k := "Medication product|" + id.System + "|" + id.Value; !c.seen[k] {
				c.seen[k] = true
				own = append(own, id)
			}
		}
		ids = append(own, ids...)
		m := &fhir.Medication{ResourceType: "Medication", ID: idn.id, Identifier: ids, Code: code,
			Manufacturer: c.organization(mp.ManufacturerOrganization)}
		if lot != "" {
			m.Batch = &fhir.MedicationBatch{LotNumber: lot}
		}
		m.Form = concept(unit)
		c.add(idn, m)
	} else if m := entryAt[*fhir.Medication](c, "Medication", idn.ref); m != nil && m.Form == nil {
		// The product named again, its form given only here.
		m.Form = concept(unit)
	}
	return medRef{ref: idn.reference()}
}

// medStatementStatus maps statusCode to MedicationStatement.status.
func medStatementStatus(st string, neg bool) string {
	if neg {
		return "not-taken"
	}
	switch st {
	case "active":
		return "active"
	case "completed":
		return "completed"
	case "aborted":
		return "stopped"
	case "suspended", "held":
		return "on-hold"
	case "cancelled":
		return "not-taken"
	case "nullified":
		return "entered-in-error"
	case "new":
		return "intended"
	}
	return "unknown"
}

// medRequestStatus maps statusCode to MedicationRequest.status.
func medRequestStatus(st string) string {
	switch st {
	case "active":
		return "active"
	case "completed":
		return "completed"
	case "aborted":
		return "stopped"
	case "suspended", "held":
		return "on-hold"
	case "cancelled":
		return "cancelled"
	case "nullified":
		return "entered-in-error"
	case "new":
		return "draft"
	}
	return "unknown"
}

// periodUnits maps UCUM time units to FHIR UnitsOfTime.
var periodUnits = map[string]string{"s": "s", "min": "min", "h": "h", "d": "d", "wk": "wk", "mo": "mo", "a": "a"}

// hoursIn are the hours of a UCUM time unit shorter than a week.
var hoursIn = map[string]float64{"s": 1.0 / 3600, "min": 1.0 / 60, "h": 1, "d": 24}

// timesADay is how many times a day a period of n unit makes, when that
// is a whole number (12 h twice, 0.3333 d three times); 0 when it is not,
// or the period is longer than a day.
func timesADay(n json.Number, unit string) int {
	v, err := n.Float64()
	h := v * hoursIn[unit]
	if err != nil || h <= 0 || h > 24 {
		return 0
	}
	f := 24 / h
	if r := math.Round(f); math.Abs(f-r) <= 0.01*r {
		return int(r)
	}
	return 0
}

// eventTimings are v3 TimingEvent codes that FHIR EventTiming shares.
var eventTimings = map[string]bool{"HS": true, "WAKE": true, "C": true, "CM": true, "CD": true, "CV": true,
	"AC": true, "ACM": true, "ACD": true, "ACV": true, "PC": true, "PCM": true, "PCD": true, "PCV": true}

// dosage builds the Dosage of a substance administration; nil if empty.
func (c *converter) dosage(a *act) *fhir.Dosage {
	d := &fhir.Dosage{Route: concept(a.RouteCode)}
	if len(a.ApproachSiteCode) > 0 {
		d.Site = concept(&a.ApproachSiteCode[0])
	}
	for i := range a.EffectiveTime {
		e := &a.EffectiveTime[i]
		typ := strings.ToUpper(bareType(e.XSIType))
		switch {
		case (typ == "PIVL_TS" || e.Period != nil) && e.Period != nil:
			p := e.Period
			value, unit := p.Value, p.Unit
			if value == "" && p.Low != nil {
				// Every 4 to 6 hours: C-CDA on FHIR maps the low as a
				// period and the high to periodMax.
				value, unit = p.Low.Value, p.Low.Unit
			}
			n, ok := decimal(value)
			unit = periodUnits[strings.TrimSpace(unit)]
			if ok && unit != "" {
				rp := &fhir.TimingRepeat{Frequency: 1, Period: n, PeriodUnit: unit}
				if p.Value == "" && p.High != nil && periodUnits[strings.TrimSpace(p.High.Unit)] == unit {
					if m, ok := decimal(p.High.Value); ok {
						rp.PeriodMax = m
					}
				}
				if f := timesADay(n, unit); f > 0 && p.Value != "" && boolAttr(e.InstitutionSpecified) {
					// So many times a day at the times the
					// institution keeps, not a fixed interval
					// (HL7 Pharmacy WG: "true = schedule based
					// on episodes (e.g., TID = three times per
					// day)"); FHIR's BID is frequency 2 a day.
					rp = &fhir.TimingRepeat{Frequency: f, Period: "1", PeriodUnit: "d"}
				}
				d.Timing = &fhir.Timing{Repeat: rp}
			}
		case typ == "EIVL_TS" || e.Event != nil:
			if e.Event != nil && eventTimings[e.Event.Code] {
				d.Timing = &fhir.Timing{Repeat: &fhir.TimingRepeat{When: []string{e.Event.Code}}}
			}
		}
	}
	if q := a.DoseQuantity; q != nil && q.NullFlavor == "" {
		unit := q.Unit
		if unit == "1" {
			unit = ""
		}
		if qq := quantity(q.Value, unit); qq != nil {
			d.DoseAndRate = append(d.DoseAndRate, fhir.DosageDoseAndRate{DoseQuantity: qq})
		} else if q.Low != nil || q.High != nil {
			rg := &fhir.Range{Low: pqQuantity(q.Low), High: pqQuantity(q.High)}
			if rg.Low != nil || rg.High != nil {
				d.DoseAndRate = append(d.DoseAndRate, fhir.DosageDoseAndRate{DoseRange: rg})
			}
		}
	}
	if q := a.RateQuantity; q != nil && q.NullFlavor == "" {
		if qq := quantity(q.Value, q.Unit); qq != nil {
			if len(d.DoseAndRate) == 0 {
				d.DoseAndRate = append(d.DoseAndRate, fhir.DosageDoseAndRate{})
			}
			d.DoseAndRate[0].RateQuantity = qq
		}
	}
	if m := a.MaxDoseQuantity; m != nil {
		// At most 6 sprays a day (C-CDA on FHIR: maxDosePerPeriod).
		rt := &fhir.Ratio{Numerator: pqQuantity(m.Numerator), Denominator: pqQuantity(m.Denominator)}
		if rt.Numerator != nil && rt.Denominator != nil {
			d.MaxPerPer = rt
		}
	}
	related(a, func(_ int, r *relationship, x *act, el string) {
		switch {
		case hasTemplate(x.TemplateID, "2.16.840.1.113883.10.20.22.4.147") && x.Text != nil:
			d.Text = clean(x.Text.Text)
		case hasTemplate(x.TemplateID, tplInstruction):
			if cc := concept(x.Code); cc != nil {
				d.Additional = append(d.Additional, *cc)
			}
		}
	})
	// A precondition (4.25) makes it taken as needed (C-CDA on FHIR):
	// for the criterion's coded value, when it gives one.
	for _, p := range a.Precondition {
		if p.Criterion != nil {
			if cc := firstValueConcept(p.Criterion); cc != nil {
				d.AsNeeded, d.AsNeededFor = nil, cc
				break
			}
		}
		d.AsNeeded = ptr(true)
	}
	if d.Route == nil && d.Site == nil && d.Timing == nil && len(d.DoseAndRate) == 0 && d.Text == "" && len(d.Additional) == 0 &&
		d.AsNeeded == nil && d.AsNeededFor == nil && d.MaxPerPer == nil {
		return nil
	}
	return d
}

// ---- Immunizations (Immunization Activity 4.52)

func (c *converter) immunization(a *act) {
	idn, ids, fresh := c.claimEntry("Immunization", a, "")
	if !fresh {
		return
	}
	// C-CDA's Immunization Activity does not say whether the record came
	// from the one who gave the dose; US Core makes primarySource 1..1, so
	// it is absent with its reason, as C-CDA on FHIR's example does.
	r := &fhir.Immunization{ResourceType: "Immunization", ID: idn.id, Identifier: ids, Patient: c.subject(),
		PrimarySourceElement: fhir.AbsentPrimitive("unknown")}
	switch {
	case negated(a):
		r.Status = "not-done"
	case status(a) == "nullified":
		r.Status = "entered-in-error"
	case status(a) == "aborted" || status(a) == "cancelled" || status(a) == "new" || status(a) == "held" ||
		status(a) == "suspended" || status(a) == "obsolete":
		// ConceptMap CF-ImmunizationStatus: only completed is a dose given.
		r.Status = "not-done"
	default:
		r.Status = "completed"
	}
	r.VaccineCode = simpleConcept("http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown", "Unknown")
	if h := a.Consumable; h != nil && h.ManufacturedProduct != nil {
		mp := h.ManufacturedProduct
		if mm := mp.ManufacturedMaterial; mm != nil {
			if cc := concept(mm.Code); cc != nil {
				r.VaccineCode = cc
			}
			r.LotNumber = clean(mm.LotNumberText)
		}
		r.Manufacturer = c.organization(mp.ManufacturerOrganization)
	}
	pt, per := c.when(firstEffective(a.EffectiveTime))
	if pt == "" && per != nil {
		pt = per.Start
	}
	if pt != "" {
		r.OccurrenceDateTime = pt
	} else {
		r.OccurrenceString = "unknown"
	}
	r.Route = concept(a.RouteCode)
	if len(a.ApproachSiteCode) > 0 {
		r.Site = concept(&a.ApproachSiteCode[0])
	}
	if q := a.DoseQuantity; q != nil && q.NullFlavor == "" {
		unit := q.Unit
		if unit == "1" {
			unit = ""
		}
		r.DoseQuantity = quantity(q.Value, unit)
	}
	// C-CDA on FHIR (CF-immunizations): repeatNumber, the dose's number
	// in its series, is protocolApplied.doseNumberPositiveInt.
	if a.RepeatNumber != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(a.RepeatNumber.Value)); err == nil && n >= 1 {
			r.ProtocolApplied = []fhir.ImmunizationProtocol{{DoseNumberPositiveInt: n}}
		}
	}
	for i := range a.Performer {
		if ref := c.actor(a.Performer[i].AssignedEntity); ref != nil {
			r.Performer = append(r.Performer, fhir.ImmunizationPerformer{
				Function: simpleConcept("http://terminology.hl7.org/CodeSystem/v2-0443", "AP", "Administering Provider"),
				Actor:    ref})
		}
	}
	_, r.Recorded = c.authorRef(a.Author)
	related(a, func(_ int, _ *relationship, x *act, el string) {
		if hasTemplate(x.TemplateID, tplImmRefusal) && r.Status == "not-done" {
			r.StatusReason = concept(x.Code)
		}
	})
	r.ReasonCode = indications(a)
	r.Note = notes(a)
	// C-CDA on FHIR (CF-immunizations): a Reaction Observation (MFST) is
	// .reaction, "reaction observation value ... mapped to reaction
	// detail (Observation) valueCodeable concept"; a negated one is
	// counted as not converted (see observation).
	within := "immunization " + entryWhat("Immunization", a)
	related(a, func(_ int, rel *relationship, x *act, el string) {
		if el != "observation" || !hasTemplate(x.TemplateID, tplReaction) && rel.TypeCode != "MFST" {
			return
		}
		ref := c.observation(x, "", within)
		if ref == "" {
			return
		}
		rx := fhir.ImmunizationReaction{Detail: &fhir.Reference{Reference: ref}}
		if pt, per := c.when(firstEffective(x.EffectiveTime)); pt != "" {
			rx.Date = pt
		} else if per != nil {
			rx.Date = per.Start
		}
		if o := c.observationAt(ref); o != nil {
			related(x, func(_ int, _ *relationship, sv *act, el string) {
				if el == "observation" && hasTemplate(sv.TemplateID, tplSeverity) {
					if v := firstValueConcept(sv); v != nil {
						code := concept(sv.Code)
						if code == nil {
							code = simpleConcept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "SEV", "Severity observation")
						}
						o.Component = append(o.Component, fhir.ObservationComponent{Code: *code, ValueCodeableConcept: v})
					}
				}
			})
		}
		r.Reaction = append(r.Reaction, rx)
	})
	c.add(idn, r)
}
