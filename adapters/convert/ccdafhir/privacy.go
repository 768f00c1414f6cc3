package ccdafhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// DS4P privacy annotations (HL7 Implementation Guide: Data Segmentation for
// Privacy, Release 1, chapter 1, the CDA content profile). A privacy
// segmented document says what protects it in security observations,
// gathered in a Privacy Annotations organizer:
//
//   - one in an entry of the Privacy Markings section
//     (2.16.840.1.113883.3.3251.1.5) labels the whole document;
//   - one in an entryRelationship of a clinical statement (Entry-Level
//     Privacy Annotations) labels what that entry says.
//
// Each observation's value is one label: a confidentiality code, a
// sensitivity (ETH, PSY, HIV ...), a privacy law (42CFRPart2), an
// obligation (ENCRYPT), a refrain (NORDSCLCD) or a purpose of use (TREAT).
// The gateway must never drop them (STANDARDS.md §7): a Part 2 label lost
// here would walk past the exchange's hold policy.
const (
	tplPrivacyAnnotations  = "2.16.840.1.113883.3.3251.1.4"
	tplSecurityObservation = "2.16.840.1.113883.3.445.21"
	tplConfidentialityObs  = "2.16.840.1.113883.3.445.12"
	tplObligationObs       = "2.16.840.1.113883.3.445.14"
	tplPurposeOfUseObs     = "2.16.840.1.113883.3.445.22"
	tplRefrainObs          = "2.16.840.1.113883.3.445.23"
)

// securityObservationCodes are the v3-ActCode SecurityObservationType
// codes a security observation is coded with.
var securityObservationCodes = map[string]bool{
	"SECOBS": true, "SECCATOBS": true, "SECCLASSOBS": true, "SECCONOBS": true, "SECINTOBS": true,
	"SECALTINTOBS": true, "SECDATINTOBS": true, "SECINTCONOBS": true, "SECINTPRVOBS": true,
	"SECINTPRVABOBS": true, "SECINTPRVRBOBS": true, "SECINTSTOBS": true, "SECTRSTOBS": true,
}

func isSecurityObservation(a *act) bool {
	if hasTemplate(a.TemplateID, tplSecurityObservation) {
		return true
	}
	return a.Code != nil && securityObservationCodes[strings.ToUpper(strings.TrimSpace(a.Code.Code))]
}

// isPrivacyAnnotation reports whether a is a Privacy Annotations organizer
// or a security observation standing on its own.
func isPrivacyAnnotation(a *act) bool {
	return hasTemplate(a.TemplateID, tplPrivacyAnnotations) || isSecurityObservation(a)
}

// annotation adds the labels of a (a Privacy Annotations organizer or a
// security observation) to l and raises the document's confidentiality.
func (c *converter) annotation(a *act, l *fhir.Labels) {
	if isSecurityObservation(a) {
		for i := range a.Value {
			c.securityValue(a, &a.Value[i], l)
		}
		return
	}
	for i := range a.Component {
		if s, _ := a.Component[i].statement(); s != nil && isSecurityObservation(s) {
			c.annotation(s, l)
		}
	}
}

// enterEntry makes the Entry-Level Privacy Annotations under a the labels
// of the resources added until the returned function is called.
func (c *converter) enterEntry(a *act) (leave func()) {
	l := fhir.NewLabels()
	if c.entryAnnotations(a, l); l.Empty() {
		return func() {}
	}
	c.entryLabels = append(c.entryLabels, l)
	c.curLabels = l
	return func() { c.curLabels = nil }
}

// entryAnnotations gathers the Entry-Level Privacy Annotations found
// anywhere under a clinical statement (a problem concern's annotation sits
// on its problem observation) into l.
func (c *converter) entryAnnotations(a *act, l *fhir.Labels) {
	for _, rels := range [][]relationship{a.EntryRelationship, a.Component} {
		for i := range rels {
			s, _ := rels[i].statement()
			switch {
			case s == nil:
			case isPrivacyAnnotation(s):
				c.annotation(s, l)
			default:
				c.entryAnnotations(s, l)
			}
		}
	}
}

// securityValue reads one security observation value. The observation's
// template says what kind of label it is, so a refrain code misspelt by
// its sender still stays out of the high-water mark; a code ferry knows is
// written in the code system FHIR names it by, whatever OID it came with
// (DS4P R1 put every value under ObservationValue, 2.16.840.1.113883.5.1063).
func (c *converter) securityValue(o *act, v *anyValue, l *fhir.Labels) {
	code := strings.TrimSpace(v.Code)
	if code == "" || v.NullFlavor != "" {
		return
	}
	display := clean(v.DisplayName)
	if r := fhir.ConfidentialityRank(strings.ToUpper(code)); r >= 0 &&
		(hasTemplate(o.TemplateID, tplConfidentialityObs) || isConfidentialitySystem(v.CodeSystem)) {
		l.Raise(r)
		c.observeConf(&cd{Code: code})
		return
	}
	if hasTemplate(o.TemplateID, tplPurposeOfUseObs) {
		l.Add(fhir.Coding{System: fhir.SystemActReason, Code: code, Display: display}, fhir.LabelHandling)
		return
	}
	canon, kind, known := fhir.SecurityCode(code)
	if known {
		code = canon
	}
	handling := hasTemplate(o.TemplateID, tplObligationObs) || hasTemplate(o.TemplateID, tplRefrainObs)
	switch {
	case known:
		if handling {
			kind = fhir.LabelHandling
		}
		l.Add(fhir.Coding{System: fhir.SystemActCode, Code: code, Display: display}, kind)
	case handling:
		l.Add(fhir.Coding{System: securityValueSystem(v.CodeSystem), Code: code, Display: display}, fhir.LabelHandling)
	default:
		l.Add(fhir.Coding{System: securityValueSystem(v.CodeSystem), Code: code, Display: display}, fhir.LabelOther)
	}
}

func isConfidentialitySystem(oid string) bool {
	switch strings.TrimSpace(oid) {
	case "", "2.16.840.1.113883.5.25", "2.16.840.1.113883.5.1063":
		return true
	}
	return false
}

// securityValueSystem is the system of a code ferry does not know: its
// sender's, or ObservationValue when it named none (DS4P R1's system).
func securityValueSystem(oid string) string {
	if s := systemURI(oid); s != "" {
		return s
	}
	return fhir.SystemObservationValue
}
