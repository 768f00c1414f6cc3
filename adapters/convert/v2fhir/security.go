package v2fhir

import (
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// Security labels (STANDARDS.md §7, DS4P IG). The v2-to-FHIR IG maps
// MSH-8, MSH-26/27 (v2.8), ORC-28 and PV2-22 to meta.security; the gateway
// must never drop or downgrade them. Every labelled resource gets exactly
// one v3-Confidentiality code (the highest of the labels that apply to it)
// plus the sensitivity, policy and handling codes; the Bundle gets the
// high-water mark: the highest confidentiality code of the message and the
// union of sensitivity and policy codes, but no refrain or obligation
// codes (NODSCLCD, MASK ...), which would themselves reveal something.
// An unlabelled message stays unlabelled: absence is not "N".

// Code systems of security labels.
const (
	SystemConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	SystemActCode         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemV2Table0177     = "http://terminology.hl7.org/CodeSystem/v2-0177"
)

// confOrder ranks v3-Confidentiality codes for the high-water mark.
var confOrder = []string{"U", "L", "M", "N", "R", "V"}

var confDisplay = map[string]string{"U": "unrestricted", "L": "low", "M": "moderate", "N": "normal", "R": "restricted", "V": "very restricted"}

func confRank(code string) int {
	for i, c := range confOrder {
		if c == code {
			return i
		}
	}
	return -1
}

const rankR = 4

// Label kinds: sensitivity and policy codes go into the Bundle's
// high-water mark; handling (refrain/obligation) codes stay on resources.
const (
	kindSensitivity = iota + 1
	kindPolicy
	kindHandling
	kindOther
)

// actCodes lists the v3-ActCode security codes ferry recognises, by kind.
var actCodes = map[string]int{
	// sensitivity (ActInformationSensitivityPolicy)
	"ETH": kindSensitivity, "SUD": kindSensitivity, "ETHUD": kindSensitivity, "OPIOIDUD": kindSensitivity,
	"COCAINEUD": kindSensitivity, "PSY": kindSensitivity, "PSYTHPN": kindSensitivity, "MH": kindSensitivity,
	"BH": kindSensitivity, "HIV": kindSensitivity, "STD": kindSensitivity, "SDV": kindSensitivity,
	"SEX": kindSensitivity, "SICKLE": kindSensitivity, "TBOO": kindSensitivity, "CEL": kindSensitivity,
	"EMP": kindSensitivity,
	// privacy law / policy
	"42CFRPart2": kindPolicy,
	// refrain policy
	"NOAUTH": kindHandling, "NOCOLLECT": kindHandling, "NODSCLCD": kindHandling, "NODSCLCDS": kindHandling,
	"NOINTEGRATE": kindHandling, "NOLIST": kindHandling, "NOMOU": kindHandling, "NOORGPOL": kindHandling,
	"NOPAT": kindHandling, "NOPERSISTP": kindHandling, "NORDSCLCD": kindHandling, "NORDSCLCDS": kindHandling,
	"NORDSCLW": kindHandling, "NORELINK": kindHandling, "NOREUSE": kindHandling, "NOVIP": kindHandling,
	"ORCON": kindHandling,
	// obligation policy
	"ANONY": kindHandling, "AOD": kindHandling, "AUDIT": kindHandling, "AUDTR": kindHandling,
	"CPLYCC": kindHandling, "CPLYCD": kindHandling, "CPLYJPP": kindHandling, "CPLYOPP": kindHandling,
	"CPLYOSP": kindHandling, "CPLYPOL": kindHandling, "DEID": kindHandling, "DELAU": kindHandling,
	"ENCRYPT": kindHandling, "ENCRYPTR": kindHandling, "ENCRYPTT": kindHandling, "ENCRYPTU": kindHandling,
	"HUAPRV": kindHandling, "MASK": kindHandling, "MINEC": kindHandling, "PRIVMARK": kindHandling,
	"PSEUD": kindHandling, "REDACT": kindHandling,
}

// KnownSecurityCode reports whether code is a v3-Confidentiality code or a
// v3-ActCode sensitivity, policy, refrain or obligation code ferry knows
// (config validation uses it for exchange.hold).
func KnownSecurityCode(code string) bool {
	_, ok := actCodes[code]
	return ok || confRank(code) >= 0
}

// labels is the set of security labels that applies to one scope (the
// message, a visit, an order group).
type labels struct {
	conf  int // rank in confOrder, -1 when no confidentiality code was given
	codes []fhir.Coding
	kinds []int // kind of each code
}

func (l *labels) empty() bool { return l == nil || (l.conf < 0 && len(l.codes) == 0) }

func (l *labels) raise(rank int) {
	if rank > l.conf {
		l.conf = rank
	}
}

func (l *labels) addCode(c fhir.Coding, kind int) {
	for _, o := range l.codes {
		if o.System == c.System && o.Code == c.Code {
			return
		}
	}
	l.codes = append(l.codes, c)
	l.kinds = append(l.kinds, kind)
}

// merge adds o's labels to l; handling codes only when withHandling.
func (l *labels) merge(o *labels, withHandling bool) {
	if o == nil {
		return
	}
	l.raise(o.conf)
	for i, c := range o.codes {
		if o.kinds[i] == kindHandling && !withHandling {
			continue
		}
		l.addCode(c, o.kinds[i])
	}
}

// coding renders the labels as meta.security: one confidentiality code
// first, then the other codes in the order they were met. Labels without a
// confidentiality code (ORC-28 "HIV" alone, a Part 2 policy, an unknown
// MSH-8 value) imply R: such content is restricted by law or by the
// sender, and guessing lower would be a downgrade.
func (l *labels) coding() []fhir.Coding {
	if l.empty() {
		return nil
	}
	rank := l.conf
	if rank < 0 {
		rank = rankR
	}
	code := confOrder[rank]
	out := make([]fhir.Coding, 0, 1+len(l.codes))
	out = append(out, fhir.Coding{System: SystemConfidentiality, Code: code, Display: confDisplay[code]})
	return append(out, l.codes...)
}

func newLabels() *labels { return &labels{conf: -1} }

// addText classifies one code given without a code system (MSH-8, or a CWE
// whose system names no table): a v3 confidentiality code, a known ActCode,
// else a sender-specific value kept in system (implying R).
func (l *labels) addText(code, display, system string) {
	code = strings.TrimSpace(code)
	if code == "" {
		return
	}
	if r := confRank(strings.ToUpper(code)); r >= 0 {
		l.raise(r)
		return
	}
	if k, ok := actCodes[code]; ok {
		l.addCode(fhir.Coding{System: SystemActCode, Code: code}, k)
		return
	}
	if k, ok := actCodes[strings.ToUpper(code)]; ok {
		l.addCode(fhir.Coding{System: SystemActCode, Code: strings.ToUpper(code)}, k)
		return
	}
	l.addCode(fhir.Coding{System: system, Code: code, Display: display}, kindOther)
}

// addTable0177 maps a v2 table 0177 (Confidentiality Code) value, used by
// ORC-28 before v2.7: "U" there is "usual control", i.e. normal (N), not
// v3 "unrestricted". Values with no v3 counterpart keep their v2 code and
// imply R.
func (l *labels) addTable0177(code, display string) {
	c := strings.ToUpper(strings.TrimSpace(code))
	switch c {
	case "":
		return
	case "U":
		l.raise(confRank("N"))
	case "R":
		l.raise(confRank("R"))
	case "V":
		l.raise(confRank("V"))
	default:
		if act, ok := table0177Sensitivity[c]; ok {
			l.addCode(fhir.Coding{System: SystemActCode, Code: act}, kindSensitivity)
		} else {
			l.addCode(fhir.Coding{System: systemV2Table0177, Code: strings.TrimSpace(code), Display: display}, kindOther)
		}
		l.raise(rankR)
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
		l.addTable0177(code, display)
	case strings.Contains(sys, "CONFIDENTIALITY") || sys == "2.16.840.1.113883.5.25" || sys == "HL70952":
		if r := confRank(strings.ToUpper(code)); r >= 0 {
			l.raise(r)
			return
		}
		l.addText(code, display, x.system(kind))
	default:
		l.addText(code, display, x.system(kind))
	}
}

// messageLabels reads MSH-8 (ST), MSH-26 (CWE) and MSH-27 (CWE, repeating).
func (x *conv) messageLabels() *labels {
	msh := x.m.MSH()
	if msh.Field(8).Empty() && (msh.NumFields() < 26 || msh.Field(26).Empty() && msh.Field(27).Empty()) {
		return nil // the common case: no allocation
	}
	l := newLabels()
	if s := strings.TrimSpace(msh.Get(8)); s != "" {
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			l.addText(part, "", x.system("msh-8"))
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
	if l.empty() {
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
	if !l.empty() {
		x.orderSec = l
	}
}

// visitLabels reads PV2-22 (Visit Protection Indicator, table 0136):
// "Y" protects the visit, which the IG maps to R.
func (x *conv) visitLabels() *labels {
	pv2, ok := x.m.Segment("PV2")
	if !ok || !strings.EqualFold(strings.TrimSpace(pv2.Get(22)), "Y") {
		return nil
	}
	l := newLabels()
	l.raise(rankR)
	return l
}

// directory resources describe people and organisations, not care: visit
// and order labels do not apply to them (message labels do).
func directory(resourceType string) bool {
	switch resourceType {
	case "Patient", "Practitioner", "Organization", "Coverage":
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
	all.merge(msg, true)
	all.merge(visit, true)
	for i := range x.entries {
		all.merge(x.entrySec[i], true)
	}
	x.allLabels = all.coding()
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
			l.merge(msg, true)
			if !directory(typ) {
				l.merge(visit, true)
			}
			l.merge(x.entrySec[i], true)
		}
		if sec := l.coding(); sec != nil {
			setSecurity(e.Resource, sec)
		}
	}
	hwm := newLabels()
	hwm.merge(all, false)
	return &fhir.Meta{Security: hwm.coding()}
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
