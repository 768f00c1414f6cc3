package ccdafhir

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

// documentKinds names the C-CDA document templates (US Realm Header children).
var documentKinds = map[string]string{
	"2.16.840.1.113883.10.20.22.1.2":  "CCD",
	"2.16.840.1.113883.10.20.22.1.3":  "History and Physical",
	"2.16.840.1.113883.10.20.22.1.4":  "Consultation Note",
	"2.16.840.1.113883.10.20.22.1.5":  "Diagnostic Imaging Report",
	"2.16.840.1.113883.10.20.22.1.6":  "Procedure Note",
	"2.16.840.1.113883.10.20.22.1.7":  "Operative Note",
	"2.16.840.1.113883.10.20.22.1.8":  "Discharge Summary",
	"2.16.840.1.113883.10.20.22.1.9":  "Progress Note",
	"2.16.840.1.113883.10.20.22.1.10": "Unstructured Document",
	"2.16.840.1.113883.10.20.22.1.13": "Transfer Summary",
	"2.16.840.1.113883.10.20.22.1.14": "Referral Note",
	"2.16.840.1.113883.10.20.22.1.15": "Care Plan",
}

// kindLOINC is the LOINC document code C-CDA names for each document
// template, for a document whose own code is not LOINC.
var kindLOINC = map[string][2]string{
	"CCD":                       {"34133-9", "Summary of episode note"},
	"History and Physical":      {"34117-2", "History and physical note"},
	"Consultation Note":         {"11488-4", "Consult note"},
	"Diagnostic Imaging Report": {"18748-4", "Diagnostic imaging study"},
	"Procedure Note":            {"28570-0", "Procedure note"},
	"Operative Note":            {"11504-8", "Surgical operation note"},
	"Discharge Summary":         {"18842-5", "Discharge summary"},
	"Progress Note":             {"11506-3", "Progress note"},
	"Transfer Summary":          {"18761-7", "Transfer summary note"},
	"Referral Note":             {"57133-1", "Referral note"},
	"Care Plan":                 {"18776-5", "Plan of care note"},
}

// documentType is DocumentReference.type: the document's code as sent,
// plus a coding US Core's required binding takes when the code is not
// LOINC (a local code, or none): the template's LOINC code, or
// v3-NullFlavor UNK for an unstructured or unknown document. The codes
// sent are kept beside it. A LOINC code other than the one the document's
// template names (real files carry wrong ones: HL7's own Referral Note
// example says 57113-1 for 57133-1) is kept, and the template's follows
// it, so an exchange that classifies by code finds the kind the template
// says.
func documentType(cc *fhir.CodeableConcept, kind string) *fhir.CodeableConcept {
	if cc == nil {
		cc = &fhir.CodeableConcept{}
	}
	l, known := kindLOINC[kind]
	for _, x := range cc.Coding {
		if x.System == "http://loinc.org" && x.Code != "" {
			if known && !slices.ContainsFunc(cc.Coding, func(y fhir.Coding) bool {
				return y.System == "http://loinc.org" && strings.TrimSpace(y.Code) == l[0]
			}) {
				cc.Coding = append(cc.Coding, fhir.Coding{System: "http://loinc.org", Code: l[0], Display: l[1]})
			}
			return cc
		}
	}
	add := fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", Code: "UNK", Display: "unknown"}
	if known {
		add = fhir.Coding{System: "http://loinc.org", Code: l[0], Display: l[1]}
	}
	cc.Coding = append([]fhir.Coding{add}, cc.Coding...)
	return cc
}

// patientState is the Patient being built; it is added to the bundle at
// the end because the birth-sex extension comes from a section.
type patientState struct {
	idn      identity
	scope    string // Patient|system|value, prefixed to patient-specific keys
	res      *fhir.Patient
	birthSex string
	retied   bool // the survivor of a merge, only found (retie)
	// retiredScope, when retied, is the scope of the identifier the
	// document names, which the merge retired (replacedVersion).
	retiredScope string
}

// header converts the document header once, before the first section.
func (c *converter) header() error {
	if c.headerDone {
		return nil
	}
	c.headerDone = true
	for _, t := range c.templates {
		if k, ok := documentKinds[t.Root]; ok && c.res.DocumentKind == "" {
			c.res.DocumentKind = k
		}
		switch {
		case t.Extension >= "2015-08-01":
			c.res.Version = "R2.1"
		case t.Extension != "" && c.res.Version != "R2.1":
			c.res.Version = "R2.0"
		}
	}
	if c.res.Version == "" {
		c.res.Version = "R1.1"
	}
	if c.docCode != nil {
		c.res.DocumentType = strings.TrimSpace(c.docCode.Code)
	}
	if id, ok := identifier(c.docID); ok {
		c.docIdent = id
		c.docKey = id.System + "|" + id.Value
	} else {
		h := sha256.Sum256(c.raw)
		c.docIdent = fhir.Identifier{System: sysRFC, Value: "urn:sha256:" + hex.EncodeToString(h[:])}
		c.docKey = c.docIdent.Value
	}
	c.setKey = c.docKey
	if c.setID != nil {
		if id, ok := identifier(*c.setID); ok {
			c.setKey = "set|" + id.System + "|" + id.Value
		}
	}
	c.observeConf(c.conf)
	if c.target == nil {
		return &PathError{Path: "/ClinicalDocument/recordTarget", Err: ErrNoPatient}
	}
	if err := c.buildPatient(); err != nil {
		return err
	}
	if c.componOf != nil && c.componOf.EncompassingEncounter != nil {
		c.encounter = c.headerEncounter()
	}
	return nil
}

// buildPatient maps recordTarget/patientRole to a US Core Patient, or
// to the survivor of the merge that retired its identifier (retie).
func (c *converter) buildPatient() error {
	pr := &c.target.PatientRole
	ids := c.patientIdentifiers(pr.ID)
	p := &fhir.Patient{ResourceType: "Patient"}
	idn, ids, _ := c.claim("Patient", ids, recordTargetKey(c.target), false)
	p.ID, p.Identifier = idn.id, ids
	if c.opts.Merges != nil && idn.ident.Value != "" {
		surv, ok, err := c.opts.Merges.Survivor(merges.ID{System: idn.ident.System, Value: idn.ident.Value})
		if err != nil {
			return &PathError{Path: "/ClinicalDocument/recordTarget/patientRole/id", Err: fmt.Errorf("patient identifier: %w", err)}
		}
		if ok {
			c.retie(surv)
			c.patient.retiredScope = "Patient|" + idn.ident.System + "|" + idn.ident.Value
			return nil
		}
	}
	c.res.PatientKey = fhir.PatientKey(idn.ident.System, idn.ident.Value)
	c.res.PatientIdentifier = fhir.Identifier{System: idn.ident.System, Value: idn.ident.Value}
	p.Address = addresses(pr.Addr)
	p.Telecom = telecoms(pr.Telecom)
	if pt := pr.Patient; pt != nil {
		p.Name = humanNames(pt.Name)
		p.Gender = gender(pt.AdministrativeGenderCode)
		if pt.BirthTime != nil {
			p.BirthDate = date(pt.BirthTime.Value)
		}
		if pt.DeceasedTime != nil && c.tsValue(pt.DeceasedTime) != "" {
			p.DeceasedDateTime = c.tsValue(pt.DeceasedTime)
		} else if pt.DeceasedInd != nil && pt.DeceasedInd.Value != "" {
			p.DeceasedBoolean = ptr(boolAttr(pt.DeceasedInd.Value))
		}
		p.MultipleBirthBoolean, p.MultipleBirthInteger = multipleBirth(pt.MultipleBirthInd, pt.MultipleBirthOrderNumber)
		p.MaritalStatus = concept(pt.MaritalStatusCode)
		races := append(append([]cd(nil), pt.RaceCode...), pt.SDTCRaceCode...)
		if ext, ok := ombExtension("http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", races, ombRace); ok {
			p.Extension = append(p.Extension, ext)
		}
		eths := append(append([]cd(nil), pt.EthnicGroupCode...), pt.SDTCEthnicGroupCode...)
		if ext, ok := ombExtension(usCoreEthnicityURL, eths, ombEthnicity); ok {
			p.Extension = append(p.Extension, ext)
		}
		for _, lc := range pt.LanguageCommunication {
			if lc.LanguageCode == nil || strings.TrimSpace(lc.LanguageCode.Code) == "" {
				continue
			}
			com := fhir.PatientCommunication{Language: fhir.CodeableConcept{Coding: []fhir.Coding{{System: "urn:ietf:bcp:47", Code: fhir.LanguageTag(token(lc.LanguageCode.Code))}}}}
			if lc.PreferenceInd != nil && lc.PreferenceInd.Value != "" {
				com.Preferred = ptr(boolAttr(lc.PreferenceInd.Value))
			}
			p.Communication = append(p.Communication, com)
		}
		for i := range pt.Guardian {
			if ct, ok := c.guardianContact(&pt.Guardian[i]); ok {
				p.Contact = append(p.Contact, ct)
			}
		}
	}
	if len(p.Name) == 0 {
		// US Core Patient.name is 1..*; a recordTarget without a usable
		// name says so with the data-absent-reason extension (us-core-6).
		p.Name = []fhir.HumanName{{Extension: []fhir.Extension{{URL: "http://hl7.org/fhir/StructureDefinition/data-absent-reason", ValueCode: "unknown"}}}}
	}
	if p.Gender == "" {
		p.Gender = "unknown" // US Core 6.1 gender 1..1, as gender() does for a code it cannot map
	}
	if pr.ProviderOrganization != nil {
		p.ManagingOrganization = c.organization(pr.ProviderOrganization)
	}
	c.replacesLinks(p, idn.ident)
	c.patient = &patientState{idn: idn, res: p, scope: "Patient|" + idn.ident.System + "|" + idn.ident.Value}
	return nil
}

// guardianContact maps a guardian to a Patient.contact (FHIR's CDA
// mapping: "contact | .patient.guardian", its relationship the
// guardian's code, its name, telecom, address and organization the
// guardian's), the relationship v3-RoleCode GUARD first; ok is false for
// one that names no one and gives no way to reach them (pat-1).
func (c *converter) guardianContact(g *guardian) (fhir.PatientContact, bool) {
	ct := fhir.PatientContact{Relationship: []fhir.CodeableConcept{*simpleConcept(
		"http://terminology.hl7.org/CodeSystem/v3-RoleCode", "GUARD", "guardian")}}
	if rel := concept(g.Code); rel != nil && !hasCode(g.Code, "2.16.840.1.113883.5.111", "GUARD") {
		ct.Relationship = append(ct.Relationship, *rel)
	}
	if g.GuardianPerson != nil {
		if ns := humanNames(g.GuardianPerson.Name); len(ns) > 0 {
			ct.Name = &ns[0]
		}
	}
	ct.Telecom = telecoms(g.Telecom)
	if as := addresses(g.Addr); len(as) > 0 {
		ct.Address = &as[0]
	}
	ct.Organization = c.organization(g.GuardianOrganization)
	return ct, ct.Name != nil || len(ct.Telecom) > 0 || ct.Address != nil || ct.Organization != nil
}

// replacesLinks links p, the record key names, to each record merged
// into it (Options.Merges, when it is a MergedLookup), as the HL7 v2
// merge (ADT^A40) wrote it: the PUT of p replaces the whole Patient, and
// without the link the exchange keeps no way from the survivor to what
// it holds filed to the merged record. Where ferry knows the merged
// record's id (ModePutID: fhir.PatientID, the id the HL7 v2 converter
// gave it) the link names it; otherwise the exchange chose it, and the
// link names the record by its identifier.
func (c *converter) replacesLinks(p *fhir.Patient, key fhir.Identifier) {
	ml, ok := c.opts.Merges.(MergedLookup)
	if !ok || key.Value == "" {
		return
	}
	for _, m := range ml.Merged(merges.ID{System: key.System, Value: key.Value}) {
		other := fhir.Reference{Type: "Patient", Identifier: &fhir.Identifier{System: m.System, Value: m.Value}}
		if !c.conditional("Patient") {
			other = fhir.Reference{Reference: "Patient/" + fhir.PatientID(m.System, m.Value)}
		}
		p.Link = append(p.Link, fhir.PatientLink{Other: other, Type: "replaces"})
	}
}

// retie makes the record surv, which the recordTarget (keyed by a
// retired identifier) was merged into, the document's patient: its key
// scopes and orders the entries, which are the resources the document
// would make if it named the survivor. The recordTarget's demographics
// are not written: they are the retired record's, often stale (the EHR
// exported before the merge), and the survivor keeps its own, which its
// own feed writes. So the survivor is only found, in every mode, by a
// conditional create on its identifier (POST, ifNoneExist) that every
// entry refers to by urn:uuid; its body (the document's name, gender and
// birth date under the survivor's identifier alone, no retired MRN) is
// written only if the exchange has no such patient. In ModePutID this is
// the one conditional entry, which Parts copies into each part. The
// retired record keeps what the merge wrote: inactive, replaced-by the
// survivor.
func (c *converter) retie(surv merges.ID) {
	ident := fhir.Identifier{System: surv.System, Value: surv.Value}
	idn := c.identityOf("Patient", ident, false)
	idn.id, idn.ref = "", "urn:uuid:"+idn.uuid
	p := &fhir.Patient{ResourceType: "Patient", Identifier: []fhir.Identifier{ident}, Gender: "unknown"}
	if pt := c.target.PatientRole.Patient; pt != nil {
		p.Name = humanNames(pt.Name)
		p.Gender = gender(pt.AdministrativeGenderCode)
		if pt.BirthTime != nil {
			p.BirthDate = date(pt.BirthTime.Value)
		}
	}
	if len(p.Name) == 0 {
		p.Name = []fhir.HumanName{{Extension: []fhir.Extension{{URL: "http://hl7.org/fhir/StructureDefinition/data-absent-reason", ValueCode: "unknown"}}}}
	}
	c.res.PatientKey = fhir.PatientKey(ident.System, ident.Value)
	c.res.PatientIdentifier = fhir.Identifier{System: ident.System, Value: ident.Value}
	c.res.Retied = 1
	c.patient = &patientState{idn: idn, res: p, scope: "Patient|" + ident.System + "|" + ident.Value, retied: true}
}

// recordTargetKey is what mints the id of a Patient without a usable id:
// the document id alone scopes it, and a sender that reuses one document
// id (a template's fixed value) for two patients would make them one
// Patient, every entry of both filed under it. So the key also names who
// the document is about (names, birth time, gender), which stays the same
// when the same document comes again.
func recordTargetKey(rt *recordTarget) string {
	var b strings.Builder
	b.WriteString("recordTarget")
	if pt := rt.PatientRole.Patient; pt != nil {
		for _, n := range humanNames(pt.Name) {
			b.WriteString("|name=" + strings.ToLower(n.Family) + "^" + strings.ToLower(strings.Join(n.Given, " ")) + "^" + strings.ToLower(n.Text))
		}
		if pt.BirthTime != nil {
			b.WriteString("|birth=" + strings.TrimSpace(pt.BirthTime.Value))
		}
		if g := pt.AdministrativeGenderCode; g != nil {
			b.WriteString("|gender=" + strings.TrimSpace(g.Code))
		}
	}
	return b.String()
}

// samePatient reports whether two recordTargets of one document name the
// same patient: an identifier in common or the same name, birth time and
// gender (each stating the patient under other ids), or, when neither has
// an id, the same demographics.
func (c *converter) samePatient(a, b *recordTarget) bool {
	as, bs := c.patientIdentifiers(a.PatientRole.ID), c.patientIdentifiers(b.PatientRole.ID)
	ka := recordTargetKey(a)
	if ka == recordTargetKey(b) && (len(as) == 0 && len(bs) == 0 || strings.Contains(ka, "|name=") && strings.Contains(ka, "|birth=")) {
		return true
	}
	for _, x := range as {
		for _, y := range bs {
			if x.System == y.System && x.Value == y.Value {
				return true
			}
		}
	}
	return false
}

// patientIdentifiers maps patientRole ids. SSNs are normalised to digits;
// placeholder SSNs (all zeros) are dropped, and real ones follow
// Options.SSN: by default kept only when the patient has no other
// identifier, since US Core advises against sending them but an
// unidentifiable patient cannot be matched at all.
func (c *converter) patientIdentifiers(in []ii) []fhir.Identifier {
	var ids, ssns []fhir.Identifier
	for _, id := range identifiers(in) {
		if id.System != identifierSystems[oidSSN] {
			ids = append(ids, id)
			continue
		}
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, id.Value)
		if len(digits) != 9 || strings.Trim(digits, "0") == "" || c.opts.SSN == SSNDrop {
			continue
		}
		id.Value = digits
		ssns = append(ssns, id)
	}
	if c.opts.SSN == SSNKeep || len(ids) == 0 {
		ids = append(ids, ssns...)
	}
	// The first id keys the patient (claim). A driver's licence or a
	// Medicare number changes with the card, and the HL7 v2 converter
	// never keys by one (DL, MC) when PID-3 gives anything else: they
	// go after the patient's other ids, as an SSN does.
	slices.SortStableFunc(ids, func(a, b fhir.Identifier) int {
		return cmpBool(cardNumber(a), cardNumber(b))
	})
	return ids
}

// cardNumber reports an identifier under the authority of a card the
// patient holds (THO NamingSystems): a US driver's licence
// (2.16.840.1.113883.4.3.<state>), a Medicare Beneficiary Identifier
// (2.16.840.1.113883.4.927) or Medicare HICN (2.16.840.1.113883.4.572).
func cardNumber(id fhir.Identifier) bool {
	const dl = "urn:oid:2.16.840.1.113883.4.3."
	return strings.HasPrefix(id.System, dl) && isOID(id.System[len(dl):]) ||
		id.System == "urn:oid:2.16.840.1.113883.4.927" || id.System == "urn:oid:2.16.840.1.113883.4.572"
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// emitPatient adds the Patient with what sections contributed.
func (c *converter) emitPatient() {
	if c.patient == nil {
		return
	}
	p := c.patient.res
	if c.patient.retied {
		idn := c.patient.idn
		c.entries["Patient"] = append(c.entries["Patient"], fhir.BundleEntry{FullURL: idn.ref, Resource: p,
			Request: &fhir.BundleRequest{Method: "POST", URL: "Patient", IfNoneExist: fhir.IdentifierQuery(idn.ident.System, idn.ident.Value)}})
		return
	}
	if c.patient.birthSex != "" {
		p.Extension = append(p.Extension, fhir.Extension{
			URL:       "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
			ValueCode: c.patient.birthSex,
		})
	}
	c.add(c.patient.idn, p)
}

// subject is the reference to the document's patient.
// multipleBirth maps the patient's sdtc:multipleBirthInd and
// sdtc:multipleBirthOrderNumber to Patient.multipleBirth[x]: the birth
// order when it is given (FHIR R4: multipleBirthInteger "indicates the
// actual birth order"), else whether the patient is one of a multiple
// birth, as PID-24 and PID-25 of an HL7 v2 message are.
func multipleBirth(ind, order *valueAttr) (*bool, *int) {
	if order != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(order.Value)); err == nil && n > 0 {
			return nil, &n
		}
	}
	if ind != nil && strings.TrimSpace(ind.Value) != "" {
		return ptr(boolAttr(ind.Value)), nil
	}
	return nil, nil
}

func (c *converter) subject() *fhir.Reference { return c.patient.idn.reference() }

const usCoreEthnicityURL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"

var (
	ombRace      = map[string]bool{"1002-5": true, "2028-9": true, "2054-5": true, "2076-8": true, "2106-3": true, "2131-1": true}
	ombEthnicity = map[string]bool{"2135-2": true, "2186-5": true}
)

// ombExtension builds the US Core race or ethnicity extension: OMB
// categories, detailed codes and the required text. ASKU/UNK nullFlavors
// become v3-NullFlavor codes in ombCategory, as US Core allows. US Core
// binds ombCategory and detailed to the CDC Race & Ethnicity code system
// (required), so a code of another system (a local one, HL7 v2's table
// 0189) says its meaning in the text only, unless a translation gives
// the CDC code.
func ombExtension(url string, codes []cd, omb map[string]bool) (fhir.Extension, bool) {
	ext := fhir.Extension{URL: url}
	var text []string
	have := map[string]bool{} // part|code of the codings, and the texts, given
	add := func(part string, c *fhir.Coding) {
		if !have[part+"|"+c.Code] {
			have[part+"|"+c.Code] = true
			ext.Extension = append(ext.Extension, fhir.Extension{URL: part, ValueCoding: c})
		}
	}
	addText := func(s string) {
		if !have["text|"+s] {
			have["text|"+s] = true
			text = append(text, s)
		}
	}
	var unknown []*fhir.Coding // ASKU and UNK, which a known category overrules
	for i := range codes {
		x := &codes[i]
		code := strings.TrimSpace(x.Code)
		switch {
		case code == "" && (x.NullFlavor == "ASKU" || x.NullFlavor == "UNK"):
			disp := map[string]string{"ASKU": "Asked but no answer", "UNK": "Unknown"}[x.NullFlavor]
			unknown = append(unknown, &fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", Code: x.NullFlavor, Display: disp})
			addText(disp)
		case code == "":
			if x.OriginalText != nil && clean(x.OriginalText.Text) != "" {
				addText(clean(x.OriginalText.Text))
			}
			continue
		default:
			if cdc := cdcCoding(x); cdc != nil {
				switch {
				case !omb[cdc.Code]:
					add("detailed", cdc)
				case url == usCoreEthnicityURL && have["omb"] && !have["ombCategory|"+cdc.Code]:
					// US Core's ethnicity has one ombCategory (0..1):
					// a second, contradicting the first, is text only.
				default:
					add("ombCategory", cdc)
					have["omb"] = true
				}
			}
			switch {
			case x.DisplayName != "":
				addText(clean(x.DisplayName))
			case x.OriginalText != nil && clean(x.OriginalText.Text) != "":
				addText(clean(x.OriginalText.Text))
			default:
				addText(code)
			}
		}
	}
	if len(text) == 0 {
		return ext, false
	}
	if !have["omb"] && len(unknown) > 0 {
		// Asked but no answer, or unknown, is the category only when no
		// category is known (US Core's us-core-23: with ASKU or UNK, no
		// other ombCategory), and it is one category.
		ext.Extension = append([]fhir.Extension{{URL: "ombCategory", ValueCoding: unknown[0]}}, ext.Extension...)
	}
	ext.Extension = append(ext.Extension, fhir.Extension{URL: "text", ValueString: strings.Join(text, ", ")})
	return ext, true
}

// cdcRaceSystems are the code systems whose race and ethnicity codes are
// the CDC's: CDC Race & Ethnicity itself and HL7 v3's Race and Ethnicity,
// which are made of its codes. A raceCode is a CNE of v3 Race, so one
// sent without a codeSystem counts when its code has the CDC's form.
var cdcRaceSystems = map[string]bool{"2.16.840.1.113883.6.238": true, "2.16.840.1.113883.5.104": true, "2.16.840.1.113883.5.50": true}

// cdcCoding is the CDC Race & Ethnicity coding of a raceCode or
// ethnicGroupCode, from the code or else a translation: nil when neither
// is a CDC code.
func cdcCoding(x *cd) *fhir.Coding {
	for _, c := range append([]cd{*x}, x.Translation...) {
		code, sys := strings.TrimSpace(c.Code), strings.TrimSpace(c.CodeSystem)
		if cdcRaceSystems[sys] || sys == "" && cdcForm(code) {
			return &fhir.Coding{System: "urn:oid:2.16.840.1.113883.6.238", Code: code, Display: clean(c.DisplayName)}
		}
	}
	return nil
}

// cdcForm reports whether s has the form of a CDC Race & Ethnicity code
// (dddd-d).
func cdcForm(s string) bool {
	if len(s) != 6 || s[4] != '-' {
		return false
	}
	for i, r := range s {
		if i != 4 && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// gender maps administrativeGenderCode to FHIR AdministrativeGender. A
// document without one (C-CDA requires it, but real ones lack it) says
// "unknown": US Core 6.1, which HTI-1 names, makes gender 1..1, as the v2
// and fax paths do.
func gender(c *cd) string {
	if c == nil {
		return "unknown"
	}
	switch strings.ToUpper(strings.TrimSpace(c.Code)) {
	case "M":
		return "male"
	case "F":
		return "female"
	case "UN":
		return "other"
	}
	return "unknown"
}

// humanNames maps PN names. A given name qualified CL ("call me") becomes a
// separate nickname.
func humanNames(ps []pn) []fhir.HumanName {
	var out []fhir.HumanName
	for i := range ps {
		p := &ps[i]
		n := fhir.HumanName{Use: nameUse(p.Use)}
		var nick []string
		for _, g := range p.Given {
			if s := clean(g.Text); s != "" {
				if g.Qualifier == "CL" {
					nick = append(nick, s)
				} else {
					n.Given = append(n.Given, s)
				}
			}
		}
		n.Family = strings.Join(partTexts(p.Family), " ")
		n.Prefix = partTexts(p.Prefix)
		n.Suffix = partTexts(p.Suffix)
		if n.Family == "" && len(n.Given) == 0 && len(n.Prefix) == 0 && len(n.Suffix) == 0 {
			if t := clean(p.Text); t != "" {
				n.Text = t
			}
		}
		if p.ValidTime != nil {
			if _, per := effective(p.ValidTime); per != nil {
				n.Period = per
			}
		}
		if n.Family != "" || len(n.Given) > 0 || n.Text != "" || len(n.Prefix) > 0 || len(n.Suffix) > 0 {
			out = append(out, n)
		}
		if len(nick) > 0 {
			out = append(out, fhir.HumanName{Use: "nickname", Given: nick})
		}
	}
	return out
}

// partTexts returns the cleaned texts of name parts, leaving out empty
// ones (nil if none is left), so that a blank <family/> or <prefix/> adds
// nothing to the name.
func partTexts(parts []namePart) []string {
	var out []string
	for _, x := range parts {
		if s := clean(x.Text); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// nameUse maps EntityNameUse to NameUse.
func nameUse(u string) string {
	for _, x := range strings.Fields(u) {
		switch x {
		case "L", "OR":
			return "official"
		case "P", "A":
			return "nickname"
		case "C", "ASGN", "I":
			return "usual"
		}
	}
	return ""
}

// addresses maps AD addresses, dropping empty ones.
func addresses(as []ad) []fhir.Address {
	var out []fhir.Address
	for i := range as {
		a := &as[i]
		x := fhir.Address{City: clean(a.City), District: clean(a.County), State: clean(a.State),
			PostalCode: clean(a.PostalCode), Country: clean(a.Country)}
		for _, l := range a.StreetAddressLine {
			if s := clean(l); s != "" {
				x.Line = append(x.Line, s)
			}
		}
		for _, u := range strings.Fields(a.Use) {
			switch u {
			case "H", "HP", "HV":
				x.Use = "home"
			case "WP", "DIR", "PUB":
				x.Use = "work"
			case "TMP":
				x.Use = "temp"
			case "OLD", "BAD":
				x.Use = "old"
			case "PHYS":
				x.Type = "physical"
			case "PST":
				x.Type = "postal"
			}
		}
		if a.UseablePeriod != nil {
			_, x.Period = effective(a.UseablePeriod)
		}
		if len(x.Line) == 0 && x.City == "" && x.State == "" && x.PostalCode == "" && x.Country == "" && x.District == "" {
			continue
		}
		out = append(out, x)
	}
	return out
}

// telecoms maps TEL values (tel:, fax:, mailto:, http:).
func telecoms(ts []tel) []fhir.ContactPoint {
	var out []fhir.ContactPoint
	for _, t := range ts {
		v := strings.TrimSpace(t.Value)
		if v == "" || t.NullFlavor != "" {
			continue
		}
		cp := fhir.ContactPoint{}
		lv := strings.ToLower(v)
		switch {
		case strings.HasPrefix(lv, "tel:"):
			cp.System, cp.Value = "phone", strings.TrimSpace(v[4:])
		case strings.HasPrefix(lv, "fax:"):
			cp.System, cp.Value = "fax", strings.TrimSpace(v[4:])
		case strings.HasPrefix(lv, "mailto:"):
			cp.System, cp.Value = "email", strings.TrimSpace(v[7:])
		case strings.HasPrefix(lv, "http:") || strings.HasPrefix(lv, "https:"):
			cp.System, cp.Value = "url", v
		case looksLikePhone(v):
			cp.System, cp.Value = "phone", v
		default:
			cp.System, cp.Value = "other", v
		}
		if cp.Value == "" {
			continue
		}
		for _, u := range strings.Fields(t.Use) {
			switch u {
			case "H", "HP", "HV":
				cp.Use = "home"
			case "WP", "DIR", "PUB":
				cp.Use = "work"
			case "MC":
				cp.Use = "mobile"
			case "PG":
				// C-CDA on FHIR FC-TelecomUse: "CDA's PG use code is
				// equivalent to FHIR's ContactPoint.system of 'pager'".
				if cp.System == "phone" {
					cp.System = "pager"
				}
			case "TMP":
				cp.Use = "temp"
			case "BAD":
				cp.Use = "old"
			}
		}
		out = append(out, cp)
	}
	return out
}

// looksLikePhone reports a bare phone number: digits and + ( ) - . space.
func looksLikePhone(v string) bool {
	digits := 0
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+()-. ", r):
		default:
			return false
		}
	}
	return digits >= 7
}

// practitioner maps an assigned author/entity with a person to a
// Practitioner (shared: the same person is one resource). Devices and
// organisation-only authors give nil; use organization for those.
func (c *converter) practitioner(a *assigned) *fhir.Reference {
	if a == nil || a.AssignedPerson == nil {
		return nil
	}
	names := humanNames(a.AssignedPerson.Name)
	ids := identifiers(a.ID)
	if len(ids) == 0 && len(names) == 0 {
		return nil
	}
	synth, placeholder := "practitioner", false
	for _, id := range ids {
		if !keyable(id) {
			// A placeholder NPI (see keyable) and the name: the same
			// person named again without a telephone is still one.
			synth += "|npi " + id.Value
			placeholder = true
		}
	}
	for _, n := range names {
		synth += "|" + n.Family + "," + strings.Join(n.Given, " ") + n.Text
	}
	if !placeholder {
		for _, t := range a.Telecom {
			synth += "|" + t.Value
		}
	}
	idn, ids, fresh := c.claim("Practitioner", ids, synth, true)
	if fresh {
		p := &fhir.Practitioner{ResourceType: "Practitioner", ID: idn.id, Identifier: ids, Name: names,
			Telecom: telecoms(a.Telecom), Address: addresses(a.Addr)}
		c.add(idn, p)
	} else if p := entryAt[*fhir.Practitioner](c, "Practitioner", idn.ref); p != nil && len(p.Name) == 0 && len(names) > 0 {
		// Named first by its id alone (see byID), described here.
		p.Name = names
		if len(p.Telecom) == 0 {
			p.Telecom = telecoms(a.Telecom)
		}
		if len(p.Address) == 0 {
			p.Address = addresses(a.Addr)
		}
	}
	return idn.reference()
}

// countEntryLooks, set by a test, is called for each bundle entry entryAt
// looks at, so a test can bound its work without timing it.
var countEntryLooks func()

// entryAt is the resource of type typ of this document that ref names,
// or nil. It looks in the index add keeps: a scan of the type's entries
// for each repeated author or medication grew with entries times
// resources.
func entryAt[T any](c *converter, typ, ref string) T {
	if countEntryLooks != nil {
		countEntryLooks()
	}
	r, _ := c.resources["urn:uuid:"+refUUID(ref)].(T)
	return r
}

// countRelatedChecks, set by a test, is called for each check of a
// relation or superseded version against those kept, so a test can bound
// the work without timing it.
var countRelatedChecks func()

// countPeopleLooks, set by a test, is called for each header person and
// Practitioner byID looks at, so a test can bound its work without
// timing it.
var countPeopleLooks func()

// byID maps a participant given by its id alone (no person, device or
// organization), as C-CDA lets a participant described elsewhere in the
// document be named ("If the ID isn't referencing an author described
// elsewhere in the document, then the author components required in US
// Realm Header are required here as well", CONF:1098-31473; C-CDA 4.0:
// "another instance ... in the document that has an id that matches the
// first id"). It is the one Practitioner of the document that carries
// that first id; without one, a Practitioner of its ids alone (C-CDA on
// FHIR maps the participant's id to the Practitioner's identifier),
// which a description later in the document fills in (see
// practitioner). A placeholder NPI no description gives names no one
// (see keyable), nor does an SSN, which is not sent.
func (c *converter) byID(a *assigned) *fhir.Reference {
	ids := identifiers(a.ID)
	if len(ids) == 0 {
		return nil
	}
	first := ids[0]
	key := idKey{first.System, first.Value}
	found := map[string]*fhir.Reference{}
	// The header's people, described before any entry is read (the
	// DocumentReference that names its authors is made last). Both
	// lists are looked up by id: going through them for each author
	// named by id grew with their product.
	for _, d := range c.headerPeopleByID()[key] {
		if countPeopleLooks != nil {
			countPeopleLooks()
		}
		if r := c.practitioner(d); r != nil {
			found[r.Reference] = r
		}
	}
	for _, r := range c.practitionersByID[key] {
		if countPeopleLooks != nil {
			countPeopleLooks()
		}
		// A reference of its own: the caller's resource keeps it, and
		// dropUnnamedPractitioners rewrites references in place.
		own := *r
		found[r.Reference] = &own
	}
	switch {
	case len(found) == 1:
		for _, r := range found {
			return r
		}
	case len(found) > 1 || !keyable(first) || first.System == identifierSystems[oidSSN]:
		// Two people of the document carry it (a placeholder): which
		// one is meant cannot be told.
		return nil
	}
	return c.practitioner(&assigned{ID: a.ID, Addr: a.Addr, Telecom: a.Telecom, AssignedPerson: &person{}})
}

// idKey is an identifier as a map key.
type idKey struct{ system, value string }

// headerPeopleByID are the header's people with a person (headerPeople)
// by each of their ids, in header order. It is made once for the header
// as read so far; reading another header element clears it.
func (c *converter) headerPeopleByID() map[idKey][]*assigned {
	if c.headerIDs == nil {
		c.headerIDs = map[idKey][]*assigned{}
		for _, d := range c.headerPeople() {
			if d.AssignedPerson == nil {
				continue
			}
			for _, id := range identifiers(d.ID) {
				k := idKey{id.System, id.Value}
				c.headerIDs[k] = append(c.headerIDs[k], d)
			}
		}
	}
	return c.headerIDs
}

// headerPeople are the header's assigned authors and entities: its
// authors, legal authenticator, service event performers and
// encompassing encounter's responsible party and participants.
func (c *converter) headerPeople() []*assigned {
	var out []*assigned
	for i := range c.authors {
		out = append(out, c.authors[i].AssignedAuthor)
	}
	if c.legal != nil {
		out = append(out, c.legal.AssignedEntity)
	}
	for _, d := range c.docOf {
		if d.ServiceEvent != nil {
			for i := range d.ServiceEvent.Performer {
				out = append(out, d.ServiceEvent.Performer[i].AssignedEntity)
			}
		}
	}
	if c.componOf != nil && c.componOf.EncompassingEncounter != nil {
		ee := c.componOf.EncompassingEncounter
		if ee.ResponsibleParty != nil {
			out = append(out, ee.ResponsibleParty.AssignedEntity)
		}
		for i := range ee.EncounterParticipant {
			out = append(out, ee.EncounterParticipant[i].AssignedEntity)
		}
	}
	kept := out[:0]
	for _, a := range out {
		if a != nil {
			kept = append(kept, a)
		}
	}
	return kept
}

// organization maps a CDA organization to a shared Organization.
func (c *converter) organization(o *organization) *fhir.Reference {
	if o == nil {
		return nil
	}
	name := ""
	for _, n := range o.Name {
		if s := clean(n.Text); s != "" {
			name = s
			break
		}
	}
	ids := identifiers(o.ID)
	if len(ids) == 0 && name == "" {
		return nil
	}
	idn, ids, fresh := c.claim("Organization", ids, "organization|"+name, true)
	if fresh {
		org := &fhir.Organization{ResourceType: "Organization", ID: idn.id, Identifier: ids, Name: name,
			Telecom: telecoms(o.Telecom), Address: addresses(o.Addr)}
		if name != "" || len(ids) > 0 {
			org.Active = ptr(true)
		}
		c.add(idn, org)
	}
	return idn.reference()
}

// actor returns a Practitioner reference for an assigned entity, falling
// back to its organization.
func (c *converter) actor(a *assigned) *fhir.Reference {
	if a == nil {
		return nil
	}
	if r := c.practitioner(a); r != nil {
		return r
	}
	if r := c.organization(a.RepresentedOrganization); r != nil {
		return r
	}
	if a.AssignedPerson == nil && a.AssignedAuthoringDevice == nil {
		return c.byID(a)
	}
	return nil
}

// authorRef returns the first author's actor and time of an entry.
func (c *converter) authorRef(as []author) (*fhir.Reference, string) {
	for i := range as {
		r := c.actor(as[i].AssignedAuthor)
		t := c.tsValue(as[i].Time)
		if r != nil || t != "" {
			return r, t
		}
	}
	return nil, ""
}

// encompassingKey is what mints the id of an encompassingEncounter
// without one: the visit's code and start. The setId scopes it, and a
// sender that reuses one setId for every document (a template's fixed
// value) would otherwise make all of a patient's visits one Encounter,
// each document's visit replacing the last. Like entryWhat it leaves out
// the end, which a replacement may add.
func encompassingKey(code *cd, t *ivlTS) string {
	k := "encompassingEncounter|code=" + cdKey(code)
	if t != nil {
		k += "|time=" + strings.TrimSpace(t.Value)
		for _, x := range []*ts{t.Low, t.Center} {
			if x != nil {
				k += "/" + strings.TrimSpace(x.Value)
			}
		}
	}
	return k
}

// headerEncounter maps componentOf/encompassingEncounter.
func (c *converter) headerEncounter() string {
	ee := c.componOf.EncompassingEncounter
	e := &fhir.Encounter{ResourceType: "Encounter", Subject: c.subject()}
	idn, ids, _ := c.claim("Encounter", identifiers(ee.ID), encompassingKey(ee.Code, ee.EffectiveTime), false)
	e.ID, e.Identifier = idn.id, ids
	e.Class = *encounterClass(ee.Code)
	if ee.Code != nil && ee.Code.CodeSystem != "2.16.840.1.113883.5.4" {
		if t := concept(ee.Code); t != nil {
			e.Type = []fhir.CodeableConcept{*t}
		}
	}
	if len(e.Type) == 0 {
		e.Type = []fhir.CodeableConcept{fhir.UnknownConcept()} // US Core 1..*, see encounterActivity
	}
	_, e.Period = c.when(ee.EffectiveTime)
	if pt, _ := c.when(ee.EffectiveTime); pt != "" {
		e.Period = &fhir.Period{Start: pt}
	}
	e.Status = "unknown"
	if e.Period != nil && e.Period.End != "" {
		e.Status = "finished"
	}
	if ee.ResponsibleParty != nil {
		if r := c.practitioner(ee.ResponsibleParty.AssignedEntity); r != nil {
			e.Participant = append(e.Participant, fhir.EncounterParticipant{
				Type:       []fhir.CodeableConcept{*simpleConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "RESP", "responsible party")},
				Individual: r})
		}
	}
	for i := range ee.EncounterParticipant {
		ep := &ee.EncounterParticipant[i]
		if r := c.practitioner(ep.AssignedEntity); r != nil {
			part := fhir.EncounterParticipant{Individual: r}
			if ep.TypeCode != "" {
				part.Type = []fhir.CodeableConcept{*simpleConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", ep.TypeCode, "")}
			}
			e.Participant = append(e.Participant, part)
		}
	}
	if ee.DischargeDisposition != nil {
		if dd := concept(ee.DischargeDisposition); dd != nil {
			e.Hospitalization = &fhir.EncounterHospitalization{DischargeDisposition: dd}
		}
	}
	if l := ee.Location; l != nil && l.HealthCareFacility != nil && l.HealthCareFacility.Location != nil {
		if name := clean(l.HealthCareFacility.Location.Name); name != "" {
			e.Location = append(e.Location, fhir.EncounterLocation{Location: fhir.Reference{Display: name}})
		}
	}
	c.add(idn, e)
	c.headerEnc = e
	return idn.ref
}

// encounterClass reads the v3 ActCode class (AMB, EMER, IMP...) from an
// encounter code or its translations; without one the class is the
// v3-NullFlavor UNK, since Encounter.class is required.
func encounterClass(code *cd) *fhir.Coding {
	if code != nil {
		cands := append([]cd{*code}, code.Translation...)
		for _, x := range cands {
			if x.CodeSystem == "2.16.840.1.113883.5.4" && x.Code != "" {
				return &fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: x.Code, Display: clean(x.DisplayName)}
			}
		}
	}
	return &fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", Code: "UNK", Display: "unknown"}
}

// observeConf raises the confidentiality high-water mark.
func (c *converter) observeConf(x *cd) {
	if x == nil {
		return
	}
	if r := fhir.ConfidentialityRank(strings.ToUpper(strings.TrimSpace(x.Code))); r > c.hwm {
		c.hwm = r
	}
}

// allLabels is every label the document carries: its confidentiality
// high-water mark and the codes of its privacy annotations, the
// document's and every entry's, in document order.
func (c *converter) allLabels() *fhir.Labels {
	l := fhir.NewLabels()
	l.Raise(c.hwm)
	l.Merge(c.docLabels, true)
	for _, e := range c.entryLabels {
		l.Merge(e, true)
	}
	return l
}

// securityLabels are the labels of what the document is made of (the
// DocumentReference's own meta and the Binaries): all of them.
func (c *converter) securityLabels() []fhir.Coding { return c.allLabels().Coding() }

// highWaterMark labels the Bundle and names the document's
// securityLabel: every label but the refrain, obligation and purpose of
// use codes, which would reveal what they protect (DS4P).
func (c *converter) highWaterMark() []fhir.Coding { return c.allLabels().HighWaterMark().Coding() }

// document2 adds the DocumentReference for the whole document and the
// Binaries with its bytes (and any embedded nonXMLBody content).
func (c *converter) document2() {
	dr := &fhir.DocumentReference{ResourceType: "DocumentReference", Status: "current"}
	mi := c.docIdent
	idn, ids, _ := c.claim("DocumentReference", []fhir.Identifier{mi}, "document", false)
	dr.ID, dr.MasterIdentifier, dr.Identifier = idn.id, &mi, ids
	if c.opts.Replaced != nil && c.replacedVersion(mi) {
		// A later version was accepted first: this one is history
		// (FHIR R4 DocumentReference.status superseded), and the
		// relatesTo it carries of its own still says what it replaced.
		dr.Status = "superseded"
		c.res.Superseded = true
	} else {
		c.res.VersionKey = c.versionKey(mi)
	}
	if c.legal != nil {
		dr.DocStatus = "final"
		dr.Authenticator = c.practitioner(c.legal.AssignedEntity)
	}
	dr.Type = documentType(concept(c.docCode), c.res.DocumentKind)
	dr.Category = []fhir.CodeableConcept{*simpleConcept("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "clinical-note", "Clinical Note")}
	dr.Subject = c.subject()
	dr.Date = c.instant(c.effectiveRaw)
	dr.Description = c.title
	for i := range c.authors {
		if r := c.actor(c.authors[i].AssignedAuthor); r != nil {
			dup := false
			for _, a := range dr.Author {
				dup = dup || a.Reference == r.Reference
			}
			if !dup {
				dr.Author = append(dr.Author, *r)
			}
		}
	}
	if c.custodian != nil {
		dr.Custodian = c.organization(c.custodian.AssignedCustodian.Org)
	}
	// A document may name any number of parents: the relations and the
	// superseded versions kept are sets, since checking each one against
	// all those kept before it grew with their square.
	type relKey struct {
		typ string
		id  fhir.Identifier
	}
	stated := map[relKey]bool{}
	for _, x := range c.related {
		if x.ParentDocument == nil {
			continue
		}
		for _, pid := range x.ParentDocument.ID {
			if y, ok := identifier(pid); ok {
				stated[relKey{x.TypeCode, y}] = true
				break
			}
		}
	}
	related := c.related
	for _, r := range c.opts.Related {
		// A relation the envelope states that the document states too
		// is written once.
		rd := relatedDocument{TypeCode: r.TypeCode}
		rd.ParentDocument = &struct {
			ID    []ii `xml:"id"`
			SetID *ii  `xml:"setId"`
		}{ID: []ii{{Root: r.Root, Extension: r.Extension}}}
		id, ok := identifier(rd.ParentDocument.ID[0])
		if countRelatedChecks != nil {
			countRelatedChecks()
		}
		if ok && !stated[relKey{r.TypeCode, id}] {
			stated[relKey{r.TypeCode, id}] = true
			related = append(related, rd)
		}
	}
	supersedes, replaces := map[string]bool{}, map[string]bool{}
	supersede := func(u string) bool {
		if countRelatedChecks != nil {
			countRelatedChecks()
		}
		if supersedes[u] {
			return false
		}
		supersedes[u] = true
		c.res.Supersedes = append(c.res.Supersedes, u)
		return true
	}
	replace := func(k string) {
		if countRelatedChecks != nil {
			countRelatedChecks()
		}
		if !replaces[k] {
			replaces[k] = true
			c.res.Replaces = append(c.res.Replaces, k)
		}
	}
	for _, rd := range related {
		code := map[string]string{"RPLC": "replaces", "APND": "appends", "XFRM": "transforms"}[rd.TypeCode]
		if code == "" || rd.ParentDocument == nil {
			continue
		}
		for _, pid := range rd.ParentDocument.ID {
			if id, ok := identifier(pid); ok {
				dr.RelatesTo = append(dr.RelatesTo, fhir.DocumentReferenceRelates{Code: code, Target: &fhir.Reference{Type: "DocumentReference", Identifier: &id}})
				// The replaced version is superseded (FHIR R4
				// DocumentReference.status; IHE MHD 4.2 ITI-65 has the
				// Document Source mark it): SupersedeBatch PATCHes it.
				// An appendix leaves its parent current, and a document
				// naming itself as its parent supersedes nothing.
				if code == "replaces" && (id.System != mi.System || id.Value != mi.Value) {
					if supersede(c.supersedeURL(id)) {
						replace(c.versionKey(id))
					}
					// The version may have been filed before a merge,
					// under the record merged into this patient: its
					// DocumentReference is keyed there (and its retry
					// reads that key), so it is superseded there too.
					// Where it is not, the PATCH finds nothing (404,
					// done).
					for _, scope := range c.mergedScopes() {
						supersede(c.scopedSupersedeURL(scope, id))
						replace(c.scopedVersionKey(scope, id))
					}
				}
				break
			}
		}
	}
	if sec := c.securityLabels(); len(sec) > 0 {
		dr.Meta = &fhir.Meta{Security: sec}
		for _, s := range c.highWaterMark() {
			dr.SecurityLabel = append(dr.SecurityLabel, fhir.CodeableConcept{Coding: []fhir.Coding{s}})
		}
	}
	format := "urn:hl7-org:sdwg:ccda-structuredBody:"
	if c.nonXML != nil {
		format = "urn:hl7-org:sdwg:ccda-nonXMLBody:"
	}
	if strings.HasPrefix(c.res.Version, "R2") {
		format += "2.1"
	} else {
		format += "1.1"
	}
	sum := sha1.Sum(c.raw)
	att := fhir.Attachment{ContentType: "text/xml", Language: token(c.lang), Size: int64(len(c.raw)), Hash: sum[:],
		Title: c.title, Creation: c.effective}
	if !c.opts.NoBinary {
		bin := &fhir.Binary{ResourceType: "Binary", ContentType: "text/xml", Data: c.raw, SecurityContext: idn.reference()}
		bidn := c.binaryIdentity("document")
		bin.ID = bidn.uuid
		if sec := c.securityLabels(); len(sec) > 0 {
			bin.Meta = &fhir.Meta{Security: sec}
		}
		c.add(bidn, bin)
		att.URL = bidn.attachmentURL()
	}
	dr.Content = append(dr.Content, fhir.DocumentReferenceContent{Attachment: att,
		Format: &fhir.Coding{System: "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", Code: format}})
	if c.nonXML != nil {
		if ct, ok := c.nonXMLContent(idn); ok {
			dr.Content = append(dr.Content, ct)
		}
	}
	ctx := &fhir.DocumentReferenceContext{}
	if c.encounter != "" {
		ctx.Encounter = []fhir.Reference{{Reference: c.encounter}}
	}
	for _, d := range c.docOf {
		if d.ServiceEvent == nil {
			continue
		}
		if pt, per := c.when(d.ServiceEvent.EffectiveTime); per != nil && ctx.Period == nil {
			ctx.Period = per
		} else if pt != "" && ctx.Period == nil {
			ctx.Period = &fhir.Period{Start: pt, End: pt}
		}
		if ev := concept(d.ServiceEvent.Code); ev != nil {
			ctx.Event = append(ctx.Event, *ev)
		}
	}
	if len(ctx.Encounter) > 0 || ctx.Period != nil || len(ctx.Event) > 0 {
		dr.Context = ctx
	}
	c.add(idn, dr)
}

// binaryIdentity is the identity of a Binary: Binary has no identifier, so
// it is always written with PUT Binary/<uuid>.
func (c *converter) binaryIdentity(what string) identity {
	idn, _, _ := c.claim("Binary", nil, what, false)
	idn.id = idn.uuid
	return idn
}

// attachmentURL is how an Attachment points at a Binary in this bundle.
func (idn identity) attachmentURL() string {
	if strings.HasPrefix(idn.ref, "urn:") {
		return idn.ref
	}
	return "Binary/" + idn.uuid
}

// nonXMLContent turns an unstructured body into a second content entry:
// embedded base64 becomes a Binary, a reference to an absolute URL stays a
// URL. A relative reference (a file name: a file that came beside the
// C-CDA) gives none: at the exchange it would resolve against the
// exchange's own base, where nothing is; the C-CDA itself, the first
// content, still carries it.
func (c *converter) nonXMLContent(doc identity) (fhir.DocumentReferenceContent, bool) {
	t := c.nonXML
	mt := token(t.MediaType)
	if t.Reference != nil && strings.TrimSpace(t.Reference.Value) != "" {
		u := strings.TrimSpace(t.Reference.Value)
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || len(pu.Scheme) == 1 || pu.Scheme == "file" {
			// A drive letter (C:\scans\scan.pdf parses as scheme "c")
			// or a file: URL names the sender's disk or share, which
			// the exchange cannot reach either.
			return fhir.DocumentReferenceContent{}, false
		}
		if mt == "" {
			mt = guessMediaType(u)
		}
		return fhir.DocumentReferenceContent{Attachment: fhir.Attachment{ContentType: mt, URL: u}}, true
	}
	if !strings.EqualFold(t.Representation, "B64") {
		text := strings.TrimSpace(t.Text)
		if text == "" {
			return fhir.DocumentReferenceContent{}, false
		}
		if mt == "" {
			mt = "text/plain"
		}
		return fhir.DocumentReferenceContent{Attachment: fhir.Attachment{ContentType: mt, Data: []byte(text)}}, true
	}
	data, err := t.data, error(nil)
	if data == nil {
		data, err = base64.StdEncoding.DecodeString(stripSpace(t.Text))
	}
	if err != nil || len(data) == 0 {
		return fhir.DocumentReferenceContent{}, false
	}
	if mt == "" {
		mt = "application/octet-stream"
	}
	sum := sha1.Sum(data)
	att := fhir.Attachment{ContentType: mt, Size: int64(len(data)), Hash: sum[:]}
	if c.opts.NoBinary {
		att.Data = data
	} else {
		bidn := c.binaryIdentity("nonXMLBody")
		bin := &fhir.Binary{ResourceType: "Binary", ID: bidn.uuid, ContentType: mt, Data: data, SecurityContext: doc.reference()}
		if sec := c.securityLabels(); len(sec) > 0 {
			bin.Meta = &fhir.Meta{Security: sec}
		}
		c.add(bidn, bin)
		att.URL = bidn.attachmentURL()
	}
	return fhir.DocumentReferenceContent{Attachment: att}, true
}

// stripSpace removes whitespace inside base64 text.
func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// guessMediaType guesses a content type from a file name.
func guessMediaType(u string) string {
	l := strings.ToLower(u)
	switch {
	case strings.HasSuffix(l, ".pdf"):
		return "application/pdf"
	case strings.HasSuffix(l, ".tif"), strings.HasSuffix(l, ".tiff"):
		return "image/tiff"
	case strings.HasSuffix(l, ".jpg"), strings.HasSuffix(l, ".jpeg"):
		return "image/jpeg"
	case strings.HasSuffix(l, ".png"):
		return "image/png"
	case strings.HasSuffix(l, ".txt"):
		return "text/plain"
	case strings.HasSuffix(l, ".rtf"):
		return "text/rtf"
	}
	return "application/octet-stream"
}
