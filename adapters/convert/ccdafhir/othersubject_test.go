package ccdafhir

import (
	"strings"
	"testing"
)

// motherSubject is a CDA subject naming the patient's mother.
const motherSubject = `<subject><relatedSubject classCode="PRS">
  <code code="MTH" codeSystem="2.16.840.1.113883.5.111" displayName="mother"/>
  <subject><administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/></subject>
 </relatedSubject></subject>`

// TestOtherSubjectNotThePatients: CDA's subject participant "represents
// the primary target of the entries recorded in the document ... Most of
// the time the subject is the same as the recordTarget, but need not be,
// for instance when the subject is a fetus"; set on a section or an
// entry, it says whom the entries are about. It was not read: the
// mother's breast cancer an EHR lists in the Problems section under her
// subject, or a fetus's findings in a section about the fetus, went out
// as the patient's own Conditions. Such an entry is not converted (FHIR
// has no resource for another person's problem here) and is counted.
func TestOtherSubjectNotThePatients(t *testing.T) {
	concern := strings.Replace(problemSection, `<statusCode code="active"/>
  <effectiveTime><low value="20200101"/></effectiveTime>`, `<statusCode code="active"/>
  <effectiveTime><low value="20200101"/></effectiveTime>`+motherSubject, 1)
	observation := strings.Replace(problemSection, `<high nullFlavor="UNK"/></effectiveTime>`, `<high nullFlavor="UNK"/></effectiveTime>`+motherSubject, 1)
	sectionLevel := strings.Replace(problemSection, `<code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>`,
		`<code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>`+motherSubject, 1)
	nested := `<component><section><code code="57075-4" codeSystem="2.16.840.1.113883.6.1"/>` + motherSubject +
		problemSection + `</section></component>`
	for name, sec := range map[string]string{"concern": concern, "observation": observation, "section": sectionLevel, "parent section": nested} {
		got, res := convertReview(t, reviewDoc("d1", "s1", "", sec))
		if n := len(got["Condition"]); n != 0 {
			t.Errorf("subject on the %s: %d Conditions filed to the patient, want none", name, n)
		}
		counted := false
		for k := range res.Skipped {
			if strings.Contains(k, "about another subject") {
				counted = true
			}
		}
		if !counted {
			t.Errorf("subject on the %s: skipped = %v, want the entry counted", name, res.Skipped)
		}
	}
	// A Family History Organizer, about a relative by design, is
	// counted by its template as before.
	fh := `<component><section><code code="10157-6" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="CLUSTER" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.45" extension="2015-08-01"/>
  <statusCode code="completed"/>` + motherSubject + `
 </organizer></entry></section></component>`
	if _, res := convertReview(t, reviewDoc("d1", "s1", "", fh)); res.Skipped["10157-6 organizer 2.16.840.1.113883.10.20.22.4.45"] != 1 {
		t.Errorf("family history: skipped = %v", res.Skipped)
	}
	// The patient's own problem is converted as before, also under a
	// subject naming the patient (ONESELF).
	self := strings.Replace(motherSubject, `code="MTH"`, `code="ONESELF"`, 1)
	for _, sec := range []string{problemSection, strings.Replace(problemSection, `<high nullFlavor="UNK"/></effectiveTime>`, `<high nullFlavor="UNK"/></effectiveTime>`+self, 1)} {
		if got, _ := convertReview(t, reviewDoc("d1", "s1", "", sec)); len(got["Condition"]) != 1 {
			t.Errorf("the patient's own problem: %d Conditions, want 1", len(got["Condition"]))
		}
	}
}
