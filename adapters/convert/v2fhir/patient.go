package v2fhir

import (
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue/merges"
)

var genders = map[string]string{"M": "male", "F": "female", "O": "other", "A": "other", "N": "other", "U": "unknown"}

const (
	usCoreRace      = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
	usCoreEthnicity = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
	cdcRaceSystem   = "urn:oid:2.16.840.1.113883.6.238"
)

var ombRace = map[string]bool{"1002-5": true, "2028-9": true, "2054-5": true, "2076-8": true, "2106-3": true, "2131-1": true}
var ombEthnicity = map[string]bool{"2135-2": true, "2186-5": true}

// ethnicity0189 maps the letters of HL7 table 0189, which many senders
// put in PID-22 instead of CDC codes, to the US Core ethnicity
// ombCategory: the two OMB categories, and the null flavor UNK that US
// Core's OMB ethnicity value set admits.
var ethnicity0189 = map[string]fhir.Coding{
	"H": {System: cdcRaceSystem, Code: "2135-2", Display: "Hispanic or Latino"},
	"N": {System: cdcRaceSystem, Code: "2186-5", Display: "Not Hispanic or Latino"},
	"U": {System: v3NullFlavor, Code: "UNK", Display: "Unknown"},
}

// hasDemographics reports whether pid has any of the fields whose lists
// patient keeps room for past identifiers and names: mother's maiden name
// (PID-6), race (PID-10), address (PID-11), telecoms (PID-13, -14, -40),
// language (PID-15) and ethnicity (PID-22).
func hasDemographics(pid hl7v2.Segment) bool {
	for _, n := range [...]int{6, 10, 11, 13, 14, 15, 22, 40} {
		if !pid.Field(n).Empty() {
			return true
		}
	}
	return false
}

// patient converts a PID segment (v2-to-FHIR "PID to Patient") and adds it
// to the bundle. US Core needs an identifier with a system and a name; a
// PID without any usable identifier cannot be matched by the receiver, so
// it is a content error.
func (x *conv) patient(pid hl7v2.Segment) (*fhir.Reference, error) {
	// The Patient and room for its usual lists: one allocation. Room for
	// the demographics past identifiers and names (about 900 bytes) is
	// made only when the PID has some: ADT feeds send them, but a lab's
	// PID is mostly just the identifier, name, birth date and sex.
	var (
		box      *patientCore
		extBuf   []fhir.Extension
		addr     []fhir.Address
		telecom  []fhir.ContactPoint
		language []fhir.PatientCommunication
	)
	if hasDemographics(pid) {
		full := x.slabs.patients.one()
		box, extBuf, addr, telecom, language = &full.patientCore, full.ext[:], full.addr[:], full.telecom[:], full.language[:]
	} else {
		box = x.slabs.patientCores.one()
	}
	p := &box.p
	p.ResourceType = "Patient"
	var key fhir.Identifier
	hasKey, ssn := false, false
	// PID-3 patient identifier list, then PID-2 and PID-4 (older versions).
	for _, n := range [...]int{3, 2, 4} {
		for rep := range pid.Field(n).RepsSeq() {
			id, ok := x.cxValue(rep)
			if !ok {
				continue
			}
			if id.System == sysSSN {
				ssn = true
				continue // US Core: Patient.identifier SHOULD NOT carry an SSN
			}
			if hasIdentifier(p.Identifier, id) {
				continue // PID-2 or PID-4 repeating PID-3, as older senders do
			}
			p.Identifier = append(into(p.Identifier, box.ids[:]), id)
			if !hasKey || keyRank(&id) > keyRank(&key) {
				key, hasKey = id, true
			}
		}
	}
	if !hasKey {
		if ssn {
			return nil, x.badField(pid, 3, "no patient identifier"+butSSN)
		}
		return nil, x.badField(pid, 3, "no patient identifier")
	}
	if id, ok := x.license(pid.Field(20).Rep(1)); ok && !hasIdentifier(p.Identifier, id) {
		p.Identifier = append(p.Identifier, id)
	}
	for rep := range pid.Field(5).RepsSeq() {
		if n, ok := x.xpnValue(rep); ok {
			p.Name = append(into(p.Name, box.names[:]), n)
		}
	}
	// PID-9, the aliases of v2.3 and v2.4 (later versions list them in
	// PID-5, name type A): names too in the IG's PID map.
	for rep := range pid.Field(9).RepsSeq() {
		if n, ok := x.xpnValue(rep); ok && !hasName(p.Name, &n) {
			p.Name = append(into(p.Name, box.names[:]), n)
		}
	}
	if len(p.Name) == 0 {
		// US Core Patient.name is 1..*, and us-core-6 wants a family or
		// given name or else the data-absent-reason extension (not a
		// name whose text is "unknown", which reads as the patient's).
		p.Name = []fhir.HumanName{{Extension: []fhir.Extension{{URL: "http://hl7.org/fhir/StructureDefinition/data-absent-reason", ValueCode: "unknown"}}}}
	}
	if m := pid.Field(6).Rep(1); !m.Empty() {
		if n, ok := x.xpnValue(m); ok && n.Family != "" {
			p.Extension = append(into(p.Extension, extBuf), fhir.Extension{URL: "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", ValueString: n.Family})
		}
	}
	bd, ok := x.date(pid.Field(7).Text(1))
	if !ok {
		return nil, x.badField(pid, 7, "invalid birth date")
	}
	p.BirthDate = bd
	if bt := x.birthTime(pid.Field(7).Text(1)); bt != "" {
		p.BirthDateElement = &fhir.PrimitiveElement{Extension: []fhir.Extension{{URL: "http://hl7.org/fhir/StructureDefinition/patient-birthTime", ValueDateTime: bt}}}
	}
	p.Gender = genders[strings.ToUpper(pid.Field(8).Text(1))]
	if p.Gender == "" {
		p.Gender = "unknown"
	}
	if ext := x.raceEthnicity(pid.Field(10), usCoreRace, ombRace); ext != nil {
		p.Extension = append(into(p.Extension, extBuf), *ext)
	}
	if ext := x.raceEthnicity(pid.Field(22), usCoreEthnicity, ombEthnicity); ext != nil {
		p.Extension = append(into(p.Extension, extBuf), *ext)
	}
	for rep := range pid.Field(11).RepsSeq() {
		if a, ok := x.xadValue(rep); ok {
			p.Address = append(into(p.Address, addr), a)
		}
	}
	for rep := range pid.Field(13).RepsSeq() {
		if t, ok := x.xtnValue(rep, "home"); ok {
			p.Telecom = append(into(p.Telecom, telecom), t)
		}
	}
	for rep := range pid.Field(14).RepsSeq() {
		if t, ok := x.xtnValue(rep, "work"); ok {
			p.Telecom = append(into(p.Telecom, telecom), t)
		}
	}
	// PID-40 (v2.7+) replaces PID-13 and PID-14; its XTN.2 says home or
	// work. A sender filling both for older receivers repeats numbers.
	for rep := range pid.Field(40).RepsSeq() {
		if t, ok := x.xtnValue(rep, ""); ok && !hasTelecom(p.Telecom, &t) {
			p.Telecom = append(into(p.Telecom, telecom), t)
		}
	}
	if lang := pid.Field(15).Rep(1); !lang.Empty() {
		if cc := x.cwe(lang, "urn:ietf:bcp:47"); cc != nil {
			// PID-15 under ISO639 is usually ISO 639-2 ("ENG"), which
			// BCP 47 writes as its ISO 639-1 code ("en").
			for i := range cc.Coding {
				if cc.Coding[i].System == fhir.BCP47System {
					cc.Coding[i].Code = fhir.LanguageTag(cc.Coding[i].Code)
				}
			}
			p.Communication = append(language[:0], fhir.PatientCommunication{Language: *cc})
		}
	}
	p.MaritalStatus = x.maritalStatus(pid.Field(16).Rep(1))
	switch strings.ToUpper(pid.Field(24).Text(1)) {
	case "Y":
		if n, err := strconv.Atoi(pid.Field(25).Text(1)); err == nil && n > 0 {
			p.MultipleBirthInteger = &n
		} else {
			t := true
			p.MultipleBirthBoolean = &t
		}
	case "N":
		f := false
		p.MultipleBirthBoolean = &f
	}
	death, ok := x.dateTime(pid.Field(29).Text(1))
	if !ok {
		return nil, x.badField(pid, 29, "invalid death date/time")
	}
	if death != "" {
		p.DeceasedDateTime = death
	} else if v := strings.ToUpper(pid.Field(30).Text(1)); v == "Y" || v == "N" {
		b := v == "Y"
		p.DeceasedBoolean = &b
	}
	ref := x.slabs.references.next()
	x.curRetied = false
	if x.c.Merges != nil {
		surv, ok, err := x.c.Merges.Survivor(merges.ID{System: key.System, Value: key.Value})
		if err != nil {
			return nil, &ContentError{Segment: "PID", Pos: pid.Pos(), Field: "PID-3", Reason: "patient identifier: " + err.Error()}
		}
		switch {
		case ok && x.reverses(surv):
			// An A40/A47 merging that record back into this one: the
			// sender turns its earlier merge round, and this patient
			// is current again (written, not re-tied).
			x.reversing = true
		case ok:
			if x.patientRef == nil {
				x.retiredKey = fhir.PatientKey(key.System, key.Value)
			}
			key, p = x.retie(p, surv)
		}
	}
	if x.curRetied {
		*ref = x.addExisting("Patient", key, p)
	} else {
		x.replacesLinks(p, key)
		*ref = x.add("Patient", key, p)
		if prev := x.patientEntry(key); prev != nil {
			// The patient named again in the message (an A40's later
			// group merging another record into the same survivor): add
			// kept the entry written first, which the merge must link.
			p = prev
		}
	}
	x.patientRes = p
	x.patientID = key
	if x.patientRef == nil {
		x.patientKey = patientHash(&x.slabs.text, key.System, key.Value)
		x.orderKey = fhir.PatientKey(key.System, key.Value)
		x.orderID = fhir.Identifier{System: key.System, Value: key.Value}
	}
	return ref, nil
}

// birthTime is the time of birth a PID-7 gives, as the IG's PID[Patient]
// map writes it in the patient-birthTime extension ("IF PID-7 LENGTH
// GREATER THAN 8"): "" for a date alone, and for a day padded with a
// midnight of zeros (199001010000), which is how many systems send a
// date of birth in a DTM, not a time. s was read as a date already.
func (x *conv) birthTime(s string) string {
	d, ok := parseDTM(s)
	if !ok || len(d.digits) <= 8 || strings.Trim(d.digits[8:], "0") == "" && strings.Trim(d.frac, "0") == "" {
		return ""
	}
	bt, _ := x.dateTime(s)
	return bt
}

// license is PID-20, the patient's driver's license (DLN: number, issuing
// state, expiration date), as the IG's DLN[Identifier] map writes it:
// type DL, under the state's system as a PID-3 license (CX.5 DL) of that
// state is. It is added after the patient is keyed, and never keys it. A
// number without its state names no one (two states' licenses may share
// it, and a sender's placeholder would be every patient's), so it is
// left out; so is one whose state is neither a US state's code nor an
// authority identifiers.systems maps or an OID names: HL7's own v2.8
// sample (the corpus's ADT-A06-01) writes DL^T05349638, the number in the
// state's place, and the "license" DL under a system minted from that
// number named two different patients at the exchange (the CI's
// two-patients audit).
func (x *conv) license(dl hl7v2.Value) (fhir.Identifier, bool) {
	num, state := dl.Text(1), dl.Comp(2).Sub(1).Trimmed()
	if num == "" || state == "" {
		return fhir.Identifier{}, false
	}
	sys, known := x.authoritySystem(state, "", "")
	id := fhir.Identifier{Type: identifierType("DL"), Value: num}
	if id.System, known = licenseSystem(state, sys, known); !known {
		return fhir.Identifier{}, false
	}
	if end, _ := x.date(dl.Text(3)); end != "" {
		id.Period = &fhir.Period{End: end}
	}
	return id, true
}

// butSSN ends the reason a PID-3 or MRG-1 that names the patient by an
// SSN alone is refused for.
const butSSN = " but an SSN, which ferry neither keys nor sends a patient by (US Core: Patient.identifier SHOULD NOT carry one); send the medical record number"

// hasSSN reports whether a CX field (PID-3, MRG-1) lists an SSN.
func (x *conv) hasSSN(f hl7v2.Value) bool {
	for rep := range f.RepsSeq() {
		if id, ok := x.cxValue(rep); ok && id.System == sysSSN {
			return true
		}
	}
	return false
}

// patientEntry is the Patient the bundle holds under key, nil when it
// holds none (or only refers to it).
func (x *conv) patientEntry(key fhir.Identifier) *fhir.Patient {
	var urn [urnLen]byte
	uuid5URN(&urn, "Patient", key.System, key.Value)
	if i := x.find(urn[:]); i >= 0 {
		p, _ := x.entries[i].Resource.(*fhir.Patient)
		return p
	}
	return nil
}

// replacesLinks links p, the record key names, to each record merged
// into it (Converter.Merges, when it is a MergedLookup), as the merge
// wrote it (mergeInto): the PUT of p replaces the whole Patient. Where
// ferry knows the merged record's id (ModeID) the link names it;
// otherwise the exchange chose it, and the link names the record by its
// identifier.
func (x *conv) replacesLinks(p *fhir.Patient, key fhir.Identifier) {
	ml, ok := x.c.Merges.(MergedLookup)
	if !ok {
		return
	}
	for _, m := range ml.Merged(merges.ID{System: key.System, Value: key.Value}) {
		other := fhir.Reference{Type: "Patient", Identifier: &fhir.Identifier{System: m.System, Value: m.Value}}
		if !x.byURN("Patient") {
			var urn [urnLen]byte
			uuid5URN(&urn, "Patient", m.System, m.Value)
			other = fhir.Reference{Reference: "Patient/" + string(urn[len("urn:uuid:"):])}
		}
		p.Link = append(p.Link, fhir.PatientLink{Other: other, Type: "replaces"})
	}
}

// reverses reports whether the merge group being converted retires surv,
// the record its PID patient was merged into: its MRG-1 keys to surv.
func (x *conv) reverses(surv merges.ID) bool {
	if x.groupMRG.Name == "" {
		return false
	}
	_, key := x.mrgIdentifiers(x.groupMRG)
	return key != nil && key.System == surv.System && key.Value == surv.Value
}

// retie makes the record surv, which the patient p (keyed by a retired
// identifier) was merged into, the current patient: the key and the
// Patient to refer to. The PID's demographics are not written: they are
// the retired record's, often stale (the sender missed the merge), and
// the survivor keeps its own, which its own feed writes. So the survivor
// is only referred to (addExisting): in ModeID as Patient/<id> of its
// key, the very id the merge's PID wrote, and where the exchange
// chooses ids as a conditional create by its identifier, whose body
// (the PID's name, sex and birth date under the survivor's identifier
// alone, no retired MRN) is written only if the exchange has no such
// patient. The retired record keeps what the merge wrote: inactive,
// replaced-by the survivor.
func (x *conv) retie(p *fhir.Patient, surv merges.ID) (fhir.Identifier, *fhir.Patient) {
	key := fhir.Identifier{System: surv.System, Value: surv.Value}
	sp := &fhir.Patient{
		ResourceType: "Patient",
		Identifier:   []fhir.Identifier{key},
		Name:         p.Name,
		Gender:       p.Gender,
		BirthDate:    p.BirthDate,
	}
	x.curRetied = true
	x.retied++
	return key, sp
}

// hasName reports whether names already holds n's family and given
// names, of the same use or n of none.
func hasName(names []fhir.HumanName, n *fhir.HumanName) bool {
	for i := range names {
		if names[i].Family == n.Family && slices.Equal(names[i].Given, n.Given) && (n.Use == "" || names[i].Use == n.Use) {
			return true
		}
	}
	return false
}

// hasTelecom reports whether cps already holds t's system and value.
func hasTelecom(cps []fhir.ContactPoint, t *fhir.ContactPoint) bool {
	for _, c := range cps {
		if c.System == t.System && c.Value == t.Value {
			return true
		}
	}
	return false
}

// keyRank ranks id as the identifier a patient's record may be keyed
// by (patient, mrgIdentifiers, changesKey; the first of the highest rank
// keys it): an MR first; then any other but those notPatientKey lists;
// those last, keying the record only when the PID names it by nothing
// else.
func keyRank(id *fhir.Identifier) int {
	switch c := typeCode(id); {
	case c == "MR":
		return 2
	case notPatientKey[c]:
		return 0
	}
	return 1
}

// notPatientKey are the v2-0203 types of the numbers PID-3 lists beside
// the patient's own that do not name the patient's record: an account
// (AN, ANC, AND, ANT) or a visit number (VN), new at each admission,
// insurance numbers (MA, MC, MB, SN) and the numbers of documents and
// cards the patient holds (DL, PPN, BA, BC), which change with them. A
// record keyed by one would be a new Patient at the exchange for each.
var notPatientKey = map[string]bool{
	"AN": true, "ANC": true, "AND": true, "ANT": true, "VN": true,
	"MA": true, "MC": true, "MB": true, "SN": true,
	"DL": true, "PPN": true, "BA": true, "BC": true,
}

// raceEthnicity builds the US Core race or ethnicity extension from PID-10
// or PID-22: CDC race and ethnicity codes go to ombCategory or detailed,
// and the text sub-extension (required) carries the display. A
// repetition whose code (CWE.1-3) is none of them is read by its
// alternate (CWE.4-6), where EHRs that code race locally put the CDC
// code ("W^White^L^2106-3^White^CDCREC").
func (x *conv) raceEthnicity(f hl7v2.Value, url string, omb map[string]bool) *fhir.Extension {
	if f.Empty() {
		return nil
	}
	ext := fhir.Extension{URL: url}
	var texts []string
	ethnicOMB := false // US Core ethnicity allows one ombCategory
	for rep := range f.RepsSeq() {
		var t [6]string // CWE.1 ... CWE.6
		rep.Texts(t[:])
		if t[0] == "" && t[1] == "" && t[3] == "" && t[4] == "" {
			continue
		}
		texts = append(texts, orStr(t[1], t[0], t[4], t[3]))
		if !x.raceCoding(&ext, t[0], t[1], t[2], omb, &ethnicOMB) {
			x.raceCoding(&ext, t[3], t[4], t[5], omb, &ethnicOMB)
		}
	}
	if len(texts) == 0 {
		return nil
	}
	ext.Extension = append(ext.Extension, fhir.Extension{URL: "text", ValueString: strings.Join(texts, ", ")})
	return &ext
}

// raceCoding adds to ext (the race or ethnicity extension) the coding of
// one CWE triplet (code, display, coding system), when it is a CDC code
// or, for ethnicity, a table 0189 letter; false when it is neither.
// ethnicOMB says whether the ethnicity's one ombCategory is taken.
func (x *conv) raceCoding(ext *fhir.Extension, code, display, sys string, omb map[string]bool, ethnicOMB *bool) bool {
	if code == "" {
		return false
	}
	sys = strings.ToUpper(sys)
	if m, ok := ethnicity0189[strings.ToUpper(code)]; ok && ext.URL == usCoreEthnicity && (sys == "" || sys == "HL70189") {
		if !*ethnicOMB {
			c := m
			ext.Extension = append(ext.Extension, fhir.Extension{URL: "ombCategory", ValueCoding: &c})
			*ethnicOMB = true
		}
		return true
	}
	if !cdcCode(code) || (sys != "" && sys != "CDCREC" && sys != "HL70005" && sys != "HL70189") {
		return false
	}
	part := "detailed"
	if omb[code] {
		part = "ombCategory"
		if ext.URL == usCoreEthnicity {
			if *ethnicOMB {
				return true
			}
			*ethnicOMB = true
		}
	}
	c := x.slabs.codings.next()
	*c = fhir.Coding{System: cdcRaceSystem, Code: code, Display: display}
	ext.Extension = append(ext.Extension, fhir.Extension{URL: part, ValueCoding: c})
	return true
}

// cdcCode reports whether s looks like a CDC Race & Ethnicity code (dddd-d).
func cdcCode(s string) bool {
	return len(s) == 6 && s[4] == '-' && allDigits(s[:4]) && allDigits(s[5:])
}

const (
	v3MaritalStatus = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
	v3NullFlavor    = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
)

// maritalStatusMap is the IG's ConceptMap table-hl70002-to-v3-maritalstatus.
// Several codes mean different things in the two tables (v2 A Separated is
// v3 L, not A Annulled; v2 P Domestic partner is v3 T, not P Polygamous;
// v2 U Unknown is not v3 U unmarried; v2 T Unreported is not v3 T
// Domestic partner), so a v2 code is never written under the v3 system
// unmapped.
var maritalStatusMap = map[string]fhir.Coding{
	"A": {System: v3MaritalStatus, Code: "L", Display: "Legally Separated"},
	"B": {System: v3MaritalStatus, Code: "U", Display: "unmarried"},
	"C": {System: v3MaritalStatus, Code: "C", Display: "Common Law"},
	"D": {System: v3MaritalStatus, Code: "D", Display: "Divorced"},
	"E": {System: v3MaritalStatus, Code: "L", Display: "Legally Separated"},
	"G": {System: v3MaritalStatus, Code: "T", Display: "Domestic partner"},
	"I": {System: v3MaritalStatus, Code: "I", Display: "Interlocutory"},
	"M": {System: v3MaritalStatus, Code: "M", Display: "Married"},
	"N": {System: v3MaritalStatus, Code: "A", Display: "Annulled"},
	"P": {System: v3MaritalStatus, Code: "T", Display: "Domestic partner"},
	"R": {System: v3MaritalStatus, Code: "T", Display: "Domestic partner"},
	"S": {System: v3MaritalStatus, Code: "S", Display: "Never Married"},
	"W": {System: v3MaritalStatus, Code: "W", Display: "Widowed"},
	"O": {System: v3NullFlavor, Code: "OTH", Display: "other"},
	"T": {System: v3NullFlavor, Code: "NAVU", Display: "not available"},
	"U": {System: v3NullFlavor, Code: "UNK", Display: "unknown"},
}

// maritalStatus converts PID-16 (table 0002): a table 0002 code the map
// covers becomes its v3 coding, followed by the original v2-0002 coding;
// any other code stays in the v2-0002 system (or the system CWE.3 names).
func (x *conv) maritalStatus(v hl7v2.Value) *fhir.CodeableConcept {
	cc := x.cwe(v, v2Table+"0002")
	if cc == nil || len(cc.Coding) == 0 || cc.Coding[0].System != v2Table+"0002" {
		return cc
	}
	m, ok := maritalStatusMap[strings.ToUpper(cc.Coding[0].Code)]
	if !ok {
		return cc
	}
	codings := make([]fhir.Coding, 0, len(cc.Coding)+1)
	codings = append(codings, m)
	cc.Coding = append(codings, cc.Coding...)
	return cc
}

// patientCore is a Patient and room for its usual lists: one allocation.
type patientCore struct {
	p     fhir.Patient
	ids   [2]fhir.Identifier
	names [2]fhir.HumanName
}

// patientBox is patientCore with room for the demographics.
type patientBox struct {
	patientCore
	ext      [3]fhir.Extension
	addr     [1]fhir.Address
	telecom  [3]fhir.ContactPoint
	language [1]fhir.PatientCommunication
}

// hasIdentifier reports whether ids holds one with id's system and value.
func hasIdentifier(ids []fhir.Identifier, id fhir.Identifier) bool {
	for i := range ids {
		if ids[i].System == id.System && ids[i].Value == id.Value {
			return true
		}
	}
	return false
}
