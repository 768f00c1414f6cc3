package v2fhir

import (
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// Security labels (STANDARDS.md §7, DS4P IG). The v2-to-FHIR IG maps
// MSH-8, MSH-26/27 (v2.8), ORC-28, PV2-22 and the ARV segment (v2.6+) to
// meta.security, and PD1-12 implies R as PV2-22 does; the gateway
// must never drop or downgrade them. Every labelled resource gets exactly
// one v3-Confidentiality code (the highest of the labels that apply to it)
// plus the sensitivity, policy and handling codes; the Bundle gets the
// high-water mark: the highest confidentiality code of the message and the
// union of sensitivity and policy codes, but no refrain or obligation
// codes (NODSCLCD, MASK ...), which would themselves reveal something.
// An unlabelled message stays unlabelled: absence is not "N".

// Code systems of security labels.
const (
	SystemConfidentiality = fhir.SystemConfidentiality
	SystemActCode         = fhir.SystemActCode
	systemV2Table0177     = "http://terminology.hl7.org/CodeSystem/v2-0177"
	systemV2Table0717     = "http://terminology.hl7.org/CodeSystem/v2-0717"
	systemV2Table0719     = "http://terminology.hl7.org/CodeSystem/v2-0719"
)

// labels is the set of security labels that applies to one scope (the
// message, a visit, an order group): fhir.Labels, whose rules every
// converter shares.
type labels = fhir.Labels

func newLabels() *labels { return fhir.NewLabels() }

func confRank(code string) int { return fhir.ConfidentialityRank(code) }

// addTable0177 maps a v2 table 0177 (Confidentiality Code) value, used by
// ORC-28 before v2.7: "U" there is "usual control", i.e. normal (N), not
// v3 "unrestricted". Values with no v3 counterpart keep their v2 code and
// imply R.
func addTable0177(l *labels, code, display string) {
	c := strings.ToUpper(strings.TrimSpace(code))
	switch c {
	case "":
		return
	case "U":
		l.Raise(confRank("N"))
	case "R":
		l.Raise(fhir.RankRestricted)
	case "V":
		l.Raise(confRank("V"))
	default:
		if act, ok := table0177Sensitivity[c]; ok {
			l.Add(fhir.Coding{System: SystemActCode, Code: act}, fhir.LabelSensitivity)
		} else {
			l.Add(fhir.Coding{System: systemV2Table0177, Code: strings.TrimSpace(code), Display: display}, fhir.LabelOther)
		}
		l.Raise(fhir.RankRestricted)
	}
}

// table0177Sensitivity maps the table 0177 values that name a sensitive
// kind of information (AIDS/HIV, alcohol and drug treatment, psychiatric,
// employee, celebrity) to their v3 ActCode sensitivity; like the other
// values with no confidentiality counterpart, they imply R.
var table0177Sensitivity = map[string]string{
	"AID": "HIV", "HIV": "HIV", "ETH": "ETH", "PSY": "PSY", "EMP": "EMP", "VIP": "CEL",
}

// addCWE adds one coded security value. table0177 says how a code without
// a code system is read (ORC-28: v2 table 0177; MSH-26/27: v3 codes).
func (x *conv) addCWE(l *labels, v hl7v2.Value, table0177 bool, kind string) {
	code, display, sys := strings.TrimSpace(v.Text(1)), v.Text(2), strings.ToUpper(strings.TrimSpace(v.Text(3)))
	if code == "" {
		return
	}
	switch {
	case sys == "HL70177" || (sys == "" && table0177):
		addTable0177(l, code, display)
	case strings.Contains(sys, "CONFIDENTIALITY") || sys == "2.16.840.1.113883.5.25" || sys == "HL70952":
		if r := confRank(strings.ToUpper(code)); r >= 0 {
			l.Raise(r)
			return
		}
		l.AddText(code, display, x.system(kind))
	default:
		l.AddText(code, display, x.system(kind))
	}
}

// messageLabels reads MSH-8 (ST), MSH-26 (CWE) and MSH-27 (CWE,
// repeating), and PD1-12 (patientProtected), which labels everything
// about the patient, so the whole message.
func (x *conv) messageLabels() *labels {
	msh := x.m.MSH()
	protected := x.patientProtected()
	person, visit := x.accessRestrictions()
	x.visitSec = visit
	if !protected && person == nil && len(x.c.Labels) == 0 && msh.Field(8).Empty() && (msh.NumFields() < 26 || msh.Field(26).Empty() && msh.Field(27).Empty()) {
		return nil // the common case: no allocation
	}
	l := newLabels()
	if protected {
		l.Raise(fhir.RankRestricted)
	}
	l.Merge(person, true)
	for _, c := range x.c.Labels {
		l.AddCoding(c)
	}
	if s := strings.TrimSpace(msh.Get(8)); s != "" {
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			l.AddText(part, "", x.system("msh-8"))
		}
	}
	if msh.NumFields() >= 26 {
		for _, f := range []int{26, 27} {
			fv := msh.Field(f)
			for i := 1; i <= fv.NumReps(); i++ {
				x.addCWE(l, fv.Rep(i), false, "msh-"+strconv.Itoa(f))
			}
		}
	}
	if l.Empty() {
		return nil
	}
	return l
}

// enterOrder makes ORC-28 of orc the labels of the resources added next
// (until the next order group).
func (x *conv) enterOrder(orc hl7v2.Segment) {
	x.orderSec = nil
	if orc.Name == "" {
		return
	}
	f := orc.Field(28)
	if f.Empty() {
		return
	}
	l := newLabels()
	for i := 1; i <= f.NumReps(); i++ {
		x.addCWE(l, f.Rep(i), true, "orc-28")
	}
	if !l.Empty() {
		x.orderSec = l
	}
}

// documentLabels reads TXA-18 (Document Confidentiality Status, table
// 0272), which the IG maps to the document's securityLabel: V and R are
// v3 V and R, U (usual control) is N as table 0177's U is, and any other
// value is kept and implies R. Nil when TXA-18 is empty.
func (x *conv) documentLabels(txa hl7v2.Segment) *labels {
	code := txa.Field(18).Text(1)
	if code == "" {
		return nil
	}
	l := newLabels()
	switch strings.ToUpper(code) {
	case "U":
		l.Raise(confRank("N"))
	case "R":
		l.Raise(fhir.RankRestricted)
	case "V":
		l.Raise(confRank("V"))
	default:
		l.AddText(code, "", x.system("txa-18"))
		l.Raise(fhir.RankRestricted)
	}
	return l
}

// patientProtected reads PD1-12 (Protection Indicator, table 0136),
// which "identifies whether access to information about this person
// should be kept from users who do not have adequate authority for the
// patient": "Y" protects the person as PV2-22 protects a visit, so it
// implies R (the v2-to-FHIR IG leaves PD1-12 to the security labels ARV
// gives). It labels the Patient and all else the message says of them;
// one protected patient of a message naming several (an ORU_R01 for
// two patients, an A39) labels it whole, never less.
func (x *conv) patientProtected() bool {
	for _, s := range x.m.Segments() {
		if s.Name == "PD1" && strings.EqualFold(strings.TrimSpace(s.Get(12)), "Y") {
			return true
		}
	}
	return false
}

// accessRestrictions reads the ARV segments (v2.6+, Access
// Restrictions), which the v2-to-FHIR IG maps to meta.security: an ARV
// after PID or PD1 restricts the person, so the whole message (person);
// one after PV1 or PV2 the visit (visit), as PV2-22 does. Nil when there
// are none.
func (x *conv) accessRestrictions() (person, visit *labels) {
	inVisit := false
	for _, s := range x.m.Segments() {
		switch s.Name {
		case "PID", "PD1":
			inVisit = false
		case "PV1", "PV2":
			inVisit = true
		case "ARV":
			l := &person
			if inVisit {
				l = &visit
			}
			if *l == nil {
				*l = newLabels()
			}
			x.addARV(*l, s)
		}
	}
	if person.Empty() {
		person = nil
	}
	if visit.Empty() {
		visit = nil
	}
	return person, visit
}

// addARV adds one ARV's labels to l. ARV-3 (Access Restriction Value,
// table 0717: ALL, DEM, LOC, PSY, HIV ...) and ARV-4 (Access Restriction
// Reason, table 0719: VIP, EMP, PAT ...) restrict access, so they imply R
// at least; a value v3 knows (HIV, PSY, STD, 42CFRPart2; VIP as CEL) is
// written as v3-ActCode writes it, the rest under its v2 table. ARV-7
// (Security Classification Tag, v2.9) is a confidentiality code, ARV-8
// (Security Handling Instructions) handling codes. ARV-2 D (the segment
// deletes the restriction) and ARV-3 NO (none) or OI (opt in) restrict
// nothing.
func (x *conv) addARV(l *labels, arv hl7v2.Segment) {
	if strings.EqualFold(strings.TrimSpace(arv.Get(2)), "D") {
		return
	}
	restricted := false
	f := arv.Field(3)
	for i := 1; i <= f.NumReps(); i++ {
		switch strings.ToUpper(strings.TrimSpace(f.Rep(i).Text(1))) {
		case "", "NO", "OI":
			continue
		}
		restricted = true
		x.addTableCode(l, f.Rep(i), "HL70717", systemV2Table0717, "arv-3")
	}
	if restricted {
		l.Raise(fhir.RankRestricted)
		f = arv.Field(4)
		for i := 1; i <= f.NumReps(); i++ {
			x.addTableCode(l, f.Rep(i), "HL70719", systemV2Table0719, "arv-4")
		}
	}
	for _, n := range []int{7, 8} {
		f = arv.Field(n)
		for i := 1; i <= f.NumReps(); i++ {
			x.addCWE(l, f.Rep(i), false, "arv-"+strconv.Itoa(n))
		}
	}
}

// addTableCode adds a coded value of a v2 table (ARV-3, ARV-4): a code
// v3-ActCode knows as a security code under v3-ActCode (VIP as CEL, as
// table 0177's VIP is), any other under the table's system; a value
// coded in another system is read as addCWE reads it.
func (x *conv) addTableCode(l *labels, v hl7v2.Value, table, system, kind string) {
	code, display, sys := strings.TrimSpace(v.Text(1)), v.Text(2), strings.ToUpper(strings.TrimSpace(v.Text(3)))
	if code == "" {
		return
	}
	if sys != "" && sys != table {
		x.addCWE(l, v, false, kind)
		return
	}
	if strings.EqualFold(code, "VIP") {
		code = "CEL"
	}
	if c, k, ok := fhir.SecurityCode(code); ok {
		l.Add(fhir.Coding{System: SystemActCode, Code: c}, k)
		return
	}
	l.Add(fhir.Coding{System: system, Code: code, Display: display}, fhir.LabelOther)
}

// visitLabels reads PV2-22 (Visit Protection Indicator, table 0136):
// "Y" protects the visit, which the IG maps to R; and the ARV segments
// of the visit (accessRestrictions). Every PV2 counts, not the first
// alone: an ORU_R01 may report for several patients, each with a visit,
// and one protected visit labels the message's visit resources, never
// less.
func (x *conv) visitLabels() *labels {
	protected := false
	for _, s := range x.m.Segments() {
		if s.Name == "PV2" && strings.EqualFold(strings.TrimSpace(s.Get(22)), "Y") {
			protected = true
			break
		}
	}
	if !protected {
		return x.visitSec
	}
	l := newLabels()
	l.Raise(fhir.RankRestricted)
	l.Merge(x.visitSec, true)
	return l
}

// directory resources describe people and organisations, not care: visit
// and order labels do not apply to them (message labels do).
func directory(resourceType string) bool {
	switch resourceType {
	case "Patient", "Practitioner", "PractitionerRole", "Organization", "Coverage":
		return true
	}
	return false
}

// noteOrderLabels records, at add time, that the entry being added belongs
// to the current labelled order group.
func (x *conv) noteOrderLabels(resourceType string) {
	if x.orderSec == nil || directory(resourceType) || resourceType == "Encounter" {
		return
	}
	if x.entrySec == nil {
		x.entrySec = map[int]*labels{}
	}
	x.entrySec[len(x.entries)] = x.orderSec
}

// applyLabels writes meta.security on the entries and returns the Bundle's
// high-water mark (nil when the message carries no labels).
func (x *conv) applyLabels() *fhir.Meta {
	msg, visit := x.msgSec, x.visitLabels()
	if msg == nil && visit == nil && len(x.entrySec) == 0 {
		return nil
	}
	// The union walks the entries in order, so the codes' order is
	// deterministic.
	all := newLabels()
	all.Merge(msg, true)
	all.Merge(visit, true)
	for i := range x.entries {
		all.Merge(x.entrySec[i], true)
	}
	x.allLabels = all.Coding()
	for i := range x.entries {
		e := &x.entries[i]
		typ := resourceTypeOf(e.Resource)
		var l *labels
		switch typ {
		case "Binary", "MessageHeader", "Provenance":
			// The Binary is the whole message; the header and provenance
			// point at everything in it.
			l = all
		default:
			l = newLabels()
			l.Merge(msg, true)
			if !directory(typ) {
				l.Merge(visit, true)
			}
			l.Merge(x.entrySec[i], true)
		}
		if sec := l.Coding(); sec != nil {
			setSecurity(e.Resource, sec)
		}
		if dr, ok := e.Resource.(*fhir.DocumentReference); ok {
			// The document's securityLabel is the high-water mark of
			// every label of the document (DS4P): the message's, the
			// visit's and the order's beside TXA-18, never TXA-18's
			// alone, which would say N of a document its meta calls R.
			dr.SecurityLabel = nil
			for _, c := range l.HighWaterMark().Coding() {
				dr.SecurityLabel = append(dr.SecurityLabel, fhir.CodeableConcept{Coding: []fhir.Coding{c}})
			}
		}
	}
	return &fhir.Meta{Security: all.HighWaterMark().Coding()}
}

// metaOf is the resource's meta and its type name (a type switch, like
// setID, rather than reflection).
func metaOf(resource any) (**fhir.Meta, string) {
	switch r := resource.(type) {
	case *fhir.Patient:
		return &r.Meta, "Patient"
	case *fhir.Encounter:
		return &r.Meta, "Encounter"
	case *fhir.Observation:
		return &r.Meta, "Observation"
	case *fhir.DiagnosticReport:
		return &r.Meta, "DiagnosticReport"
	case *fhir.Practitioner:
		return &r.Meta, "Practitioner"
	case *fhir.PractitionerRole:
		return &r.Meta, "PractitionerRole"
	case *fhir.Organization:
		return &r.Meta, "Organization"
	case *fhir.MessageHeader:
		return &r.Meta, "MessageHeader"
	case *fhir.Provenance:
		return &r.Meta, "Provenance"
	case *fhir.Binary:
		return &r.Meta, "Binary"
	case *fhir.AllergyIntolerance:
		return &r.Meta, "AllergyIntolerance"
	case *fhir.Condition:
		return &r.Meta, "Condition"
	case *fhir.Procedure:
		return &r.Meta, "Procedure"
	case *fhir.Coverage:
		return &r.Meta, "Coverage"
	case *fhir.Immunization:
		return &r.Meta, "Immunization"
	case *fhir.ServiceRequest:
		return &r.Meta, "ServiceRequest"
	case *fhir.Appointment:
		return &r.Meta, "Appointment"
	case *fhir.DocumentReference:
		return &r.Meta, "DocumentReference"
	case *fhir.MedicationRequest:
		return &r.Meta, "MedicationRequest"
	case *fhir.Specimen:
		return &r.Meta, "Specimen"
	case *fhir.MedicationDispense:
		return &r.Meta, "MedicationDispense"
	}
	return nil, ""
}

func resourceTypeOf(resource any) string {
	_, t := metaOf(resource)
	return t
}

// setSecurity replaces the resource's meta.security (v2 resources carry no
// other meta). A resource type metaOf does not know is a programming
// error, caught by the tests.
func setSecurity(resource any, sec []fhir.Coding) {
	m, _ := metaOf(resource)
	if m == nil {
		panic("v2fhir: setSecurity: unhandled resource")
	}
	if *m == nil {
		*m = &fhir.Meta{}
	}
	(*m).Security = sec
}
