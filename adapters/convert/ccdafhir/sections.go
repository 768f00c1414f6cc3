package ccdafhir

import "strings"

// sectionKind says which C-CDA section an entry sits in; entries without a
// known template are converted according to it.
type sectionKind int

const (
	secOther sectionKind = iota
	secAllergies
	secProblems
	secMedications
	secImmunizations
	secResults
	secVitals
	secSocial
	secProcedures
	secEncounters
	secPlan
	secHealthConcerns
)

// sectionTemplates maps section template roots (entries optional and
// required variants) to kinds.
var sectionTemplates = map[string]sectionKind{
	"2.16.840.1.113883.10.20.22.2.6":    secAllergies,
	"2.16.840.1.113883.10.20.22.2.6.1":  secAllergies,
	"2.16.840.1.113883.10.20.22.2.5":    secProblems,
	"2.16.840.1.113883.10.20.22.2.5.1":  secProblems,
	"2.16.840.1.113883.10.20.22.2.20":   secProblems, // past medical history
	"2.16.840.1.113883.10.20.22.2.1":    secMedications,
	"2.16.840.1.113883.10.20.22.2.1.1":  secMedications,
	"2.16.840.1.113883.10.20.22.2.11":   secMedications, // discharge medications
	"2.16.840.1.113883.10.20.22.2.11.1": secMedications,
	"2.16.840.1.113883.10.20.22.2.44":   secMedications, // admission medications
	"2.16.840.1.113883.10.20.22.2.38":   secMedications, // medications administered
	"2.16.840.1.113883.10.20.22.2.2":    secImmunizations,
	"2.16.840.1.113883.10.20.22.2.2.1":  secImmunizations,
	"2.16.840.1.113883.10.20.22.2.3":    secResults,
	"2.16.840.1.113883.10.20.22.2.3.1":  secResults,
	"2.16.840.1.113883.10.20.22.2.4":    secVitals,
	"2.16.840.1.113883.10.20.22.2.4.1":  secVitals,
	"2.16.840.1.113883.10.20.22.2.17":   secSocial,
	"2.16.840.1.113883.10.20.22.2.7":    secProcedures,
	"2.16.840.1.113883.10.20.22.2.7.1":  secProcedures,
	"2.16.840.1.113883.10.20.22.2.22":   secEncounters,
	"2.16.840.1.113883.10.20.22.2.22.1": secEncounters,
	"2.16.840.1.113883.10.20.22.2.10":   secPlan,
	"2.16.840.1.113883.10.20.22.2.58":   secHealthConcerns,
}

// sectionCodes maps section LOINC codes to kinds, for R1.1 and vendor
// documents whose templateIds are missing or older.
var sectionCodes = map[string]sectionKind{
	"48765-2": secAllergies,
	"11450-4": secProblems,
	"11348-0": secProblems,
	"10160-0": secMedications,
	"10183-2": secMedications,
	"75311-1": secMedications,
	"42346-7": secMedications,
	"29549-3": secMedications,
	"11369-6": secImmunizations,
	"30954-2": secResults,
	"8716-3":  secVitals,
	"29762-2": secSocial,
	"47519-4": secProcedures,
	"46240-8": secEncounters,
	"18776-5": secPlan,
	"75310-3": secHealthConcerns,
}

// classifySection decides a section's kind from its templates, then code.
func classifySection(s *section) sectionKind {
	for _, t := range s.templates {
		if k, ok := sectionTemplates[t.Root]; ok {
			return k
		}
	}
	if s.code != nil && s.code.CodeSystem == "2.16.840.1.113883.6.1" {
		if k, ok := sectionCodes[strings.TrimSpace(s.code.Code)]; ok {
			return k
		}
	}
	return secOther
}

// entry dispatches one section entry by its template, falling back to the
// section kind and the element name.
func (c *converter) entry(rel *relationship, s *section) error {
	a, el := rel.statement()
	if a == nil {
		return nil
	}
	if isPrivacyAnnotation(a) {
		// A privacy annotation standing as an entry of its own (as in
		// the Privacy Markings section): it labels the whole document.
		c.annotation(a, c.docLabels)
		return nil
	}
	defer c.enterEntry(a)()
	c.observeConf(a.ConfidentialityCode)
	saved := c.skipSection
	c.skipSection = sectionLabel(s)
	defer func() { c.skipSection = saved }()
	if a.NullFlavor != "" {
		c.skip(el + " nullFlavor")
		return nil
	}
	t := a.TemplateID
	if (s.aboutOther() || a.Subject.other()) && !hasTemplate(t, tplFamilyHistoryOrg) {
		// CDA's subject says the entries are about someone else (a
		// fetus, a relative): none of them is the patient's own. (A
		// Family History Organizer is about a relative by design; it
		// is not converted, and is counted by its template as ever.)
		c.skip(el + " about another subject")
		return nil
	}
	switch {
	case hasTemplate(t, tplAllergyConcern) || (s.kind == secAllergies && el == "act"):
		c.allergyConcern(a)
	case hasTemplate(t, tplAllergyObs) || (s.kind == secAllergies && el == "observation"):
		c.allergy(a, nil)
	case el == "act" && (hasTemplate(t, tplHospitalDischargeDx) || hasTemplate(t, tplAdmissionDx) ||
		hasTemplate(t, tplPreopDx) || hasTemplate(t, tplPostopDx)):
		c.diagnosisAct(a)
	case hasTemplate(t, tplProblemConcern) || hasTemplate(t, tplHealthConcern) ||
		((s.kind == secProblems || s.kind == secHealthConcerns) && el == "act"):
		c.problemConcern(a, s)
	case hasTemplate(t, tplProblemObs) || ((s.kind == secProblems || s.kind == secHealthConcerns) && el == "observation"):
		c.condition(a, nil, categoryFor(s))
	case el == "act" && (hasTemplate(t, tplDischargeMed) || hasTemplate(t, tplAdmissionMed)):
		c.medicationAct(a, s)
	case el == "substanceAdministration" && (hasTemplate(t, tplImmunization) || s.kind == secImmunizations):
		// C-CDA on FHIR maps only EVN immunizations to Immunization; a
		// planned one (INT) is a MedicationRequest, never a dose given.
		if m := strings.ToUpper(strings.TrimSpace(a.MoodCode)); m != "" && m != "EVN" {
			c.medication(a, s)
		} else {
			c.immunization(a)
		}
	case el == "substanceAdministration":
		c.medication(a, s)
	case el == "organizer" && (hasTemplate(t, tplVitalOrganizer) || s.kind == secVitals):
		c.vitalsOrganizer(a)
	case el == "organizer" && (hasTemplate(t, tplResultOrganizer) || s.kind == secResults):
		c.resultOrganizer(a)
	case el == "observation" && (hasTemplate(t, tplVitalObs) || s.kind == secVitals):
		c.observation(a, "vital-signs", "")
	case el == "observation" && (hasTemplate(t, tplResultObs) || s.kind == secResults):
		c.observation(a, "laboratory", "")
	case el == "observation" && (hasTemplate(t, tplBirthSex) || hasCode(a.Code, "2.16.840.1.113883.6.1", "76689-9")):
		c.birthSex(a)
	case el == "observation" && (hasTemplate(t, tplSmokingStatus) || hasTemplate(t, tplTobaccoUse) ||
		hasTemplate(t, tplSocialObs) || hasTemplate(t, tplPregnancy) || s.kind == secSocial):
		c.observation(a, "social-history", "")
	case hasTemplate(t, tplProcedureProc) || hasTemplate(t, tplProcedureObs) || hasTemplate(t, tplProcedureAct) ||
		(s.kind == secProcedures && (el == "procedure" || el == "act" || el == "observation")):
		c.procedure(a, el)
	case el == "encounter" && (hasTemplate(t, tplEncounterActivity) || s.kind == secEncounters):
		c.encounterActivity(a)
	default:
		c.skip(skipKey(t, el))
	}
	return nil
}

// other reports whether s names someone other than the patient: any
// subject but one whose relationship is ONESELF (v3 RoleCode), the
// patient named again.
func (s *subject) other() bool {
	if s == nil {
		return false
	}
	return s.RelatedSubject == nil || s.RelatedSubject.Code == nil ||
		!strings.EqualFold(strings.TrimSpace(s.RelatedSubject.Code.Code), "ONESELF")
}

// skip counts an entry that was not converted, under the section it is
// in: "10157-6 observation 2.16.840.1.113883.10.20.22.4.46".
func (c *converter) skip(what string) {
	if c.skipSection != "" {
		what = c.skipSection + " " + what
	}
	c.res.Skipped[what]++
}

// skipKey names an unconverted entry by its first template root.
func skipKey(t []ii, el string) string {
	if len(t) > 0 && t[0].Root != "" {
		return el + " " + safeOID(t[0].Root)
	}
	return el
}

// sectionLabel names section s in Result.Skipped: its LOINC code, else
// its first template root, else "section". Both come from the sender,
// so only values shaped like a LOINC code or an OID are used: a key is
// logged, and must never carry text that could be PHI.
func sectionLabel(s *section) string {
	if s == nil {
		return "section"
	}
	if s.code != nil && s.code.CodeSystem == "2.16.840.1.113883.6.1" {
		if code := strings.TrimSpace(s.code.Code); isLOINC(code) {
			return code
		}
	}
	for _, t := range s.templates {
		if t.Root != "" {
			return "section " + safeOID(t.Root)
		}
	}
	return "section"
}

// isLOINC reports whether v has the shape of a LOINC code (1 to 7
// digits, a hyphen, a check digit).
func isLOINC(v string) bool {
	i := strings.IndexByte(v, '-')
	if i < 1 || i > 7 || len(v) != i+2 || v[i+1] < '0' || v[i+1] > '9' {
		return false
	}
	for j := 0; j < i; j++ {
		if v[j] < '0' || v[j] > '9' {
			return false
		}
	}
	return true
}

// safeOID returns root when it is an OID (digits and dots, at most 128
// characters), and "non-OID" otherwise, so that a templateId root a
// sender filled with something else never reaches a log.
func safeOID(root string) string {
	root = strings.TrimSpace(root)
	if root == "" || len(root) > 128 || root[0] == '.' || root[len(root)-1] == '.' {
		return "non-OID"
	}
	for i := 0; i < len(root); i++ {
		if (root[i] < '0' || root[i] > '9') && root[i] != '.' {
			return "non-OID"
		}
	}
	return root
}

// dischargeSection reports whether s is the Discharge Medications
// section (2.11, 2.11.1; by code 10183-2 or 75311-1): the medications the
// patient is to take after discharge.
func dischargeSection(s *section) bool {
	if s == nil {
		return false
	}
	for _, t := range s.templates {
		if r := strings.TrimSpace(t.Root); r == "2.16.840.1.113883.10.20.22.2.11" || r == "2.16.840.1.113883.10.20.22.2.11.1" {
			return true
		}
	}
	return hasCode(s.code, "2.16.840.1.113883.6.1", "10183-2") || hasCode(s.code, "2.16.840.1.113883.6.1", "75311-1")
}

// categoryFor is the Condition category of a problem in section s.
func categoryFor(s *section) string {
	if s != nil && s.kind == secHealthConcerns {
		return "health-concern"
	}
	if s != nil && s.kind == secEncounters {
		return "encounter-diagnosis"
	}
	return "problem-list-item"
}
