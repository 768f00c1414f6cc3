package v2fhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// Referrals (HL7 v2 chapter 11, REF_I12). The v2-to-FHIR IG 1.0.0 has no
// message map for REF and no segment map for RF1 or PRD, so these follow
// the HL7 v2 mappings the FHIR R4 specification gives for ServiceRequest
// (identifier RF1-6 / RF1-11, status RF1-1, priority RF1-2, performerType
// RF1-3, authoredOn RF1-7 / RF1-9, reasonCode RF1-10, requester and
// performer from the PRD whose role is RP and RT) and reuse the IG's
// maps for the segments it does cover (PID, PV1, DG1, AL1, PR1, IN1, OBR,
// OBX, NTE). Decisions where neither says anything are noted where they
// are made.
func init() {
	// I12 new referral, I13 modify referral, I14 cancel referral: one
	// ServiceRequest, keyed by the referral's identifier, so the
	// modification and the cancellation land on the resource I12 wrote.
	for _, t := range []string{"I12", "I13", "I14"} {
		handlers["REF^"+t] = (*conv).referral
	}
	// I15 asks the referred-to provider for the status of a referral; the
	// answer is an RRI^I15 carrying that status. It states no new fact:
	// writing its RF1 would replace the referral's current status at the
	// exchange with whatever the asking system last knew, and an AA would
	// tell the sender its query had been answered, which ferry (a
	// forwarder that holds no referral status) cannot do. It is refused
	// as an unsupported trigger event (AR, ERR-3 201), so the sender
	// learns at once that no answer is coming this way; the message still
	// lands in quarantine, not lost.
	refused["REF^I15"] = "a referral status request (trigger event I15) asks the referred-to provider for an RRI^I15 answer; " +
		"ferry forwards referrals to the exchange and holds no referral status to answer with, so it converts I12, I13 and I14 only"
}

// referralStatus maps RF1-1 (table 0283) to ServiceRequest.status. R4
// ServiceRequest has no status for "sent, not yet accepted": a pending
// referral (P) is an authorised request in force, so active, as an
// accepted one (A) is; draft would say the referring provider has not
// finished it. Rejected (R) and expired (E) referrals may not be acted
// on any more without having been carried out: revoked ("terminated
// prior to the known full completion"), not completed. Codes outside the
// table give unknown; a cancellation (I14) is revoked whatever RF1-1 says.
var referralStatus = map[string]string{"A": "active", "P": "active", "R": "revoked", "E": "revoked"}

// Shared, read-only referral codes (callers must not modify them). SNOMED
// CT 3457005 "Patient referral" is the category US Core's ServiceRequest
// category value set has for referrals. RF1 names no service (the FHIR
// mapping's "PR1-3 / OBR-4" for code fits orders, while in REF_I12 the PR1
// and OBR/OBX groups carry the patient's history, see referral), and
// US Core requires ServiceRequest.code, so the request's code is the
// same concept: the referral itself, whose kind RF1-3 gives as the
// performer type.
var (
	referralCategory = fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://snomed.info/sct", Code: "3457005", Display: "Patient referral"}}}
	referralCode     = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://snomed.info/sct", Code: "3457005", Display: "Patient referral"}}, Text: "Patient referral"}
)

// referral converts REF^I12, I13 and I14: RF1 to a ServiceRequest (intent
// order: a referring provider's referral authorises the referred-to
// provider to act, and v2's REF carries no separate proposal stage), the
// PRD segments to its requester, performers and the patient's primary
// care provider, and the clinical segments to the resources the request
// refers to: DG1 Conditions are its reasonReference, IN1 Coverages its
// insurance, and PR1 Procedures, AL1 allergies and the OBR/OBX results
// its supportingInfo. The NTE after the patient visit annotate the
// referral; those in a result group annotate that result. AUT
// (authorization), CTD (contacts for the referral), GT1, ACC and DRG have
// no place in a ServiceRequest and no map in the IG; the original message
// keeps them in the Binary.
func (x *conv) referral() error {
	rf1, ok := x.m.Segment("RF1")
	if !ok {
		return &ContentError{Segment: "RF1", Field: "RF1", Reason: "required segment missing"}
	}
	if err := x.patientContext(); err != nil {
		return err
	}
	// The identifiers, scoped as order numbers are: by the namespace
	// (EI.2) that assigned them, else by the sending facility.
	var ids []fhir.Identifier
	var key fhir.Identifier
	if id, ok := x.eiValue(rf1.Field(6), "PLAC", "referral"); ok {
		ids = append(ids, id)
		key = id
	}
	for rep := range rf1.Field(11).RepsSeq() {
		if id, ok := x.eiValue(rep, "", "external-referral"); ok {
			ids = append(ids, id)
			if key.Value == "" {
				key = id
			}
		}
	}
	if key.Value == "" {
		return x.badField(rf1, 6, "referral has neither an originating (RF1-6) nor an external (RF1-11) referral identifier")
	}
	sr := &fhir.ServiceRequest{
		ResourceType:  "ServiceRequest",
		Identifier:    ids,
		Intent:        "order",
		Category:      []fhir.CodeableConcept{referralCategory},
		Priority:      priorities[strings.ToUpper(rf1.Field(2).Text(1))],
		Code:          referralCode,
		Subject:       *x.patientRef,
		Encounter:     x.encRef,
		PerformerType: x.tableCC(rf1.Field(3).Rep(1), "0281"),
	}
	switch s := strings.ToUpper(rf1.Field(1).Text(1)); {
	case x.typ.Trigger == "I14":
		sr.Status = "revoked"
	case s == "":
		sr.Status = "active" // a referral sent without a status is in force
	default:
		sr.Status = referralStatus[s]
		if sr.Status == "" {
			sr.Status = "unknown"
		}
	}
	// RF1-5, the referral category (table 0284: ambulatory, emergency,
	// inpatient, outpatient), is the setting of the care asked for: a
	// second category beside the referral's.
	if c := x.tableCC(rf1.Field(5).Rep(1), "0284"); c != nil {
		sr.Category = append(sr.Category, *c)
	}
	// RF1-9, the process date, is "the date on which the referral
	// originated" (chapter 11), so authoredOn; without it, the effective
	// date. RF1-7 and RF1-8 bound the period the referral may be acted on.
	start, err := x.fieldDateTime(rf1, 7)
	if err != nil {
		return err
	}
	end, err := x.fieldDateTime(rf1, 8)
	if err != nil {
		return err
	}
	if endsBefore(start, end) {
		end = "" // per-1: an expiration before the effective date says nothing sure
	}
	if start != "" || end != "" {
		sr.OccurrencePeriod = &fhir.Period{Start: start, End: end}
	}
	if sr.AuthoredOn, err = x.fieldDateTime(rf1, 9); err != nil {
		return err
	}
	if sr.AuthoredOn == "" {
		sr.AuthoredOn = start
	}
	for rep := range rf1.Field(10).RepsSeq() {
		if cc := x.tableCC(rep, "0336"); cc != nil {
			sr.ReasonCode = append(sr.ReasonCode, *cc)
		}
	}
	if t := rf1.Field(14).Trimmed(); t != "" { // referral reason text (v2.7+)
		sr.ReasonCode = append(sr.ReasonCode, fhir.CodeableConcept{Text: t})
	}
	if t := rf1.Field(24).Trimmed(); t != "" { // comment (v2.7+)
		sr.Note = append(sr.Note, fhir.Annotation{Text: t})
	}

	if err := x.referralProviders(sr); err != nil {
		return err
	}
	if len(sr.Performer) == 0 {
		// No referred-to PRD: RF1-20 (authorized health professional) and
		// RF1-19 (authorized provider organisation) name who may carry
		// the referral out. They are read only as this fallback, since
		// they usually name the PRD RT provider again under another id.
		if ref := x.practitioner(rf1.Field(20).Rep(1)); ref != nil {
			sr.Performer = append(sr.Performer, *ref)
		} else if org := rf1.Field(19).Rep(1).Text(1); org != "" {
			sr.Performer = append(sr.Performer, fhir.Reference{Type: "Organization", Display: org})
		}
	}

	first := len(x.entries)
	notes, err := x.referralClinical()
	if err != nil {
		return err
	}
	sr.Note = append(sr.Note, notes...)
	x.referralLinks(sr, first)
	// Added last: a bundle cut into parts (Split) keeps every reference
	// pointing at an earlier entry.
	x.focus = append(x.focus, x.add("ServiceRequest", key, sr))
	return nil
}

// referralProviders converts the PRD segments by their role (PRD-1,
// table 0286): the referring provider (RP) requests, the referred-to (RT)
// and consulting (CP) providers perform, and the primary care provider
// (PP) is the patient's general practitioner. Other roles have no element
// of their own and are left to the Binary.
func (x *conv) referralProviders(sr *fhir.ServiceRequest) error {
	for _, prd := range x.m.All("PRD") {
		role := strings.ToUpper(prd.Field(1).Rep(1).Text(1))
		switch role {
		case "RP", "RT", "CP", "PP":
		default:
			continue
		}
		ref, err := x.provider(prd)
		if err != nil {
			return err
		}
		if ref == nil {
			continue
		}
		switch role {
		case "RP":
			if sr.Requester == nil {
				sr.Requester = ref
			}
		case "RT", "CP":
			sr.Performer = append(sr.Performer, *ref)
		case "PP":
			if x.patientRes != nil {
				x.patientRes.GeneralPractitioner = append(x.patientRes.GeneralPractitioner, *ref)
			}
		}
	}
	return nil
}

// licenceTypes are the table 0338 practitioner id number types (PLN.2)
// that v2-0203 has as identifier types too.
var licenceTypes = map[string]bool{
	"UPIN": true, "CY": true, "DEA": true, "GL": true, "L&I": true, "MCD": true, "MCR": true,
	"QA": true, "SL": true, "TAX": true, "TRL": true, "NPI": true,
}

// provider converts one PRD to a reference. A person (PRD-2) with
// identifiers (PRD-7, PLN: number, type, state, expiration) becomes a
// Practitioner with the address (PRD-3) and contacts (PRD-5); a person
// without identifiers a display-only reference, as an XCN with only a
// name does (a name is no key). A PRD naming only an organisation
// (PRD-10, XON) becomes an Organization when the XON carries an
// identifier (XON.10, else XON.3), with PRD-11 and PRD-13 as its address
// and contacts, else a display-only reference. nil when it names nobody.
func (x *conv) provider(prd hl7v2.Segment) (*fhir.Reference, error) {
	name, named := x.xpnValue(prd.Field(2).Rep(1))
	name.Use = "" // XPN-7 is the patient's name type, not a practitioner's
	var ids []fhir.Identifier
	for rep := range prd.Field(7).RepsSeq() {
		var t [4]string
		rep.Texts(t[:])
		if t[0] == "" {
			continue
		}
		typ, state := strings.ToUpper(t[1]), t[2]
		id := fhir.Identifier{Value: t[0]}
		if typ == "NPI" {
			id.System = sysNPI
		} else {
			// A licence number is unique only within its kind and the
			// state that issued it: both scope the minted system.
			id.System = x.system("practitioner-id") + ":" + sanitise(orStr(typ, "unknown"))
			if state != "" {
				id.System += ":" + sanitise(state)
			}
		}
		if licenceTypes[typ] {
			id.Type = identifierType(typ)
		}
		exp, ok := x.date(t[3])
		if !ok {
			return nil, x.badField(prd, 7, "invalid identifier expiration date")
		}
		if exp != "" {
			id.Period = &fhir.Period{End: exp}
		}
		ids = append(ids, id)
	}
	if named || len(ids) > 0 {
		if len(ids) == 0 {
			return &fhir.Reference{Display: nameText(&name)}, nil
		}
		// The NPI keys the Practitioner wherever PRD-7 lists it: the
		// same doctor named by another PRD with the NPI alone is one.
		// A placeholder NPI keys it with the name (keyable).
		sent := ids[0]
		for _, id := range ids {
			if id.System == sysNPI {
				sent = id
				break
			}
		}
		if !named {
			// Ids without a name: no Practitioner (see nameless), but
			// a reference by an id that names someone: the NPI, else
			// the first other (a placeholder NPI names no one).
			if keyable(sent) {
				return x.nameless(sent, sent), nil
			}
			for _, id := range ids {
				if id.System != sysNPI {
					return x.nameless(id, id), nil
				}
			}
			return nil, nil
		}
		key := sent
		if !keyable(key) {
			key = x.placeholderKey(key.Value, personKey(&name))
			ids = append(ids, key)
		}
		p := &fhir.Practitioner{ResourceType: "Practitioner", Identifier: ids, Name: []fhir.HumanName{name}}
		if a, ok := x.xadValue(prd.Field(3).Rep(1)); ok {
			p.Address = []fhir.Address{a}
		}
		for rep := range prd.Field(5).RepsSeq() {
			if cp, ok := x.xtnValue(rep, "work"); ok {
				p.Telecom = append(p.Telecom, cp)
			}
		}
		ref := x.add("Practitioner", key, p)
		ref.Display = nameText(&name)
		return &ref, nil
	}
	return x.organization(prd.Field(10).Rep(1), prd.Field(11).Rep(1), prd.Field(13)), nil
}

// organization converts an XON to a reference: an Organization (the
// IG's XON[Organization]) when the XON carries an identifier (XON.10,
// else XON.3), with address (an XAD) and the contacts in telecom (XTN
// repetitions), else a display-only reference, as a name is no key; nil
// when it names nothing.
func (x *conv) organization(xon, address, telecom hl7v2.Value) *fhir.Reference {
	orgName := xon.Text(1)
	idValue := orStr(xon.Text(10), xon.Text(3))
	if idValue == "" {
		if orgName == "" {
			return nil
		}
		return &fhir.Reference{Type: "Organization", Display: orgName}
	}
	aa := xon.Comp(6)
	ns, universal := aa.Sub(1).Trimmed(), aa.Sub(2).Trimmed()
	sys, known := x.authoritySystem(ns, universal, aa.Sub(3).Trimmed())
	if !known {
		sys = x.system("organization")
		if ns == "" {
			ns = universal // an authority named by its universal id alone
		}
		if ns != "" {
			sys += ":" + sanitise(ns)
		}
	}
	id := fhir.Identifier{System: sys, Value: idValue}
	if t := strings.ToUpper(xon.Text(7)); t != "" {
		// XON.7 says what the id is, as XCN.13 does a person's: an
		// NPI's system is the NPI's whoever assigned it.
		id.Type = identifierType(t)
		if t == "NPI" {
			id.System = sysNPI
		}
	}
	org := &fhir.Organization{ResourceType: "Organization", Identifier: []fhir.Identifier{id}, Name: orgName}
	if !keyable(id) {
		// A placeholder NPI: keyed with the organisation's name.
		id = x.placeholderKey(id.Value, orgName)
		org.Identifier = append(org.Identifier, id)
	}
	if a, ok := x.xadValue(address); ok {
		org.Address = []fhir.Address{a}
	}
	for rep := range telecom.RepsSeq() {
		if cp, ok := x.xtnValue(rep, "work"); ok {
			org.Telecom = append(org.Telecom, cp)
		}
	}
	ref := x.add("Organization", id, org)
	ref.Display = orgName
	return &ref
}

// referralClinical converts the clinical segments of a referral with the
// package's segment maps and returns the notes of the referral itself:
// the NTE outside a result group (REF_I12 puts them after PV1/PV2). An
// OBR opens a result group (a DiagnosticReport of the OBX that follow);
// its NTE, OBX and PRT stay in it, and any other segment closes it.
func (x *conv) referralClinical() ([]fhir.Annotation, error) {
	w := resultWalk{x: x}
	inResults := false
	var notes []fhir.Annotation
	for _, seg := range x.m.Segments() {
		switch seg.Name {
		case "OBR", "OBX", "NTE", "PRT":
		default:
			if inResults {
				if err := w.closeReport(); err != nil {
					return nil, err
				}
				inResults = false
			}
		}
		var err error
		switch seg.Name {
		case "OBR":
			err = w.openReport(seg)
			inResults = true
		case "OBX":
			err = w.openObs(seg)
			inResults = true
		case "NTE":
			if inResults {
				w.note(seg)
			} else if t := nteText(seg); t != "" {
				notes = append(notes, fhir.Annotation{Text: t})
			}
		case "DG1":
			err = x.diagnosis(seg)
		case "AL1":
			err = x.allergy(seg)
		case "PR1":
			// PR1 in REF_I12 carries the procedure's date/time and its
			// surgeon and anaesthetist: a procedure the patient had,
			// written as the package writes PR1 (a completed Procedure)
			// and given to the referral as supporting information.
			err = x.procedure(seg)
		case "IN1":
			err = x.coverage(seg)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := w.closeReport(); err != nil {
		return nil, err
	}
	return notes, nil
}

// referralLinks points the referral at the resources its clinical
// segments wrote (entries from first on): Conditions are the reasons,
// Coverages the insurance, and results, procedures and allergies the
// supporting information (an Observation only when no DiagnosticReport
// of the message lists it already).
func (x *conv) referralLinks(sr *fhir.ServiceRequest, first int) {
	inReport := map[string]bool{}
	for _, e := range x.entries[first:] {
		if dr, ok := e.Resource.(*fhir.DiagnosticReport); ok {
			for _, r := range dr.Result {
				inReport[r.Reference] = true
			}
		}
	}
	for i := first; i < len(x.entries); i++ {
		ref := x.targets[i]
		switch r := x.entries[i].Resource.(type) {
		case *fhir.Condition:
			// A diagnosis the DG1 deletes is no reason for the referral.
			if r.VerificationStatus == nil {
				sr.ReasonReference = append(sr.ReasonReference, ref)
			}
		case *fhir.Coverage:
			sr.Insurance = append(sr.Insurance, ref)
		case *fhir.Observation:
			if !inReport[ref.Reference] {
				sr.SupportingInfo = append(sr.SupportingInfo, ref)
			}
		case *fhir.DiagnosticReport, *fhir.Procedure, *fhir.AllergyIntolerance:
			sr.SupportingInfo = append(sr.SupportingInfo, ref)
		}
	}
}
