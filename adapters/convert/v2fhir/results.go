package v2fhir

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/ferry-health/ferry/adapters/convert/internal/ucum"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// obxStatus maps OBX-11 (table 0085) to Observation.status. "U" (status
// change to final without the results already sent as preliminary) has no
// entry in the IG's ConceptMap; an OBX that carries its value anyway is
// final, and one without a value is not written at all (statusOnly): a PUT
// would replace the preliminary result with one without a value. Its new
// status travels as a PATCH instead (StatusBatch). "V" (verified: final
// results reviewed and confirmed, unchanged) and "B" (appended: final
// results with information added, values unchanged), added in v2.8, have
// none either; they are final results, not ones whose status the lab does
// not know, so "final" and "amended" (R4: changed after being final,
// including new information), not "unknown", which a reader showing final
// results would pass over.
var obxStatus = map[string]string{
	"A": "amended", "B": "amended", "C": "corrected", "D": "entered-in-error", "F": "final", "I": "registered",
	"N": "cancelled", "O": "registered", "P": "preliminary", "R": "preliminary",
	"S": "preliminary", "U": "final", "V": "final", "W": "entered-in-error", "X": "cancelled",
}

// v3Interpretations are the codes of v3-ObservationInterpretation, which
// spell table 0078's (HL7 Terminology 3.0.0: the active ones, and AC, HM,
// MS, OBX, QCF, TOX, VS, H> and L< deprecated).
var v3Interpretations = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields("< > A AA AC B CAR Carrier D DET E EX EXP H H> HH HM HU HX I IE IND L L< LL LU LX MS N NCL ND NEG NR NS OBX POS QCF R RR S SDD SYN-R SYN-S TOX U UNE VS W WR") {
		m[c] = true
	}
	return m
}()

// obrStatus maps OBR-25 (table 0123) to DiagnosticReport.status. "N"
// (procedure completed, results pending), which the IG's ConceptMap has no
// row for, is a report with nothing to show yet, as O, I and S are.
var obrStatus = map[string]string{
	"O": "registered", "I": "registered", "S": "registered", "N": "registered", "A": "partial",
	"P": "preliminary", "C": "corrected", "R": "partial", "F": "final",
	"X": "cancelled", "Y": "unknown", "Z": "unknown",
}

// observationCategories are shared, read-only values (one per code) so that
// every Observation does not allocate its own; callers must not modify them.
var observationCategories = map[string][]fhir.CodeableConcept{
	"laboratory":  {{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "laboratory", Display: "Laboratory"}}}},
	"imaging":     {{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "imaging", Display: "Imaging"}}}},
	"vital-signs": {{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Display: "Vital Signs"}}}},
	"laboratory+vital-signs": {
		{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "laboratory", Display: "Laboratory"}}},
		{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Display: "Vital Signs"}}},
	},
}

// absentReasons are shared, read-only data-absent-reason concepts for an
// OBX without a value; callers must not modify them.
var absentReasons = func() map[string]*fhir.CodeableConcept {
	m := map[string]*fhir.CodeableConcept{}
	for code, display := range map[string]string{"unknown": "Unknown", "temp-unknown": "Temporarily Unknown", "not-performed": "Not Performed", "not-asked": "Not Asked"} {
		m[code] = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.DataAbsentReasonSystem, Code: code, Display: display}}}
	}
	return m
}()

// vitalSignCodes are the LOINC codes of FHIR R4's vital signs profiles
// (observation-vitalsigns.html, and US Core's pediatric and pulse
// oximetry ones). An Observation coded so must conform to them, and they
// want its category vital-signs: a vital signs panel's members are not
// laboratory results even when a results interface (ORU) sends them; a
// member of another (laboratory) report keeps laboratory beside it.
var vitalSignCodes = map[string]bool{
	"85353-1": true, "9279-1": true, "8867-4": true, "2708-6": true, "59408-5": true, "8310-5": true,
	"8302-2": true, "9843-4": true, "29463-7": true, "39156-5": true, "85354-9": true, "8480-6": true,
	"8462-4": true, "59576-9": true, "8289-1": true, "77606-2": true,
}

// isVitalSign reports whether code carries a vital-sign LOINC code.
func isVitalSign(code *fhir.CodeableConcept) bool {
	for _, c := range code.Coding {
		if c.System == "http://loinc.org" && vitalSignCodes[c.Code] {
			return true
		}
	}
	return false
}

// The codes of a blood pressure and its readings (FHIR R4's blood
// pressure profile, http://hl7.org/fhir/StructureDefinition/bp, and US
// Core Blood Pressure): shared and read-only.
var (
	bpCode        = fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://loinc.org", Code: "85354-9", Display: "Blood pressure panel with all children optional"}}}
	systolicCode  = fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://loinc.org", Code: "8480-6", Display: "Systolic blood pressure"}}}
	diastolicCode = fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://loinc.org", Code: "8462-4", Display: "Diastolic blood pressure"}}}
)

// hasLOINC reports whether code carries the LOINC code c.
func hasLOINC(code *fhir.CodeableConcept, c string) bool {
	for _, x := range code.Coding {
		if x.System == "http://loinc.org" && x.Code == c {
			return true
		}
	}
	return false
}

// bloodPressureValue makes the reading of an OBX coded 85354-9 (blood
// pressure), an SN ratio (^120^/^80) or the text "120/80", the systolic
// and diastolic components FHIR R4's blood pressure profile and US Core
// Blood Pressure want, in the OBX-6 unit, in place of the valueRatio or
// valueString that says nothing to a client reading a blood pressure.
// Anything else is left as it was.
func (x *conv) bloodPressureValue(o *fhir.Observation, units quantityUnit) {
	var s, d string
	switch {
	case o.ValueRatio != nil && o.ValueRatio.Numerator.Comparator == "":
		s, d = string(o.ValueRatio.Numerator.Value), string(o.ValueRatio.Denominator.Value)
	case o.ValueString != "":
		// The text an NM that is no number leaves ends in its unit.
		s, d, _ = strings.Cut(strings.TrimSuffix(o.ValueString, " "+units.unit), "/")
	default:
		return
	}
	sq, dq := x.quantityIn(strings.TrimSpace(s), units), x.quantityIn(strings.TrimSpace(d), units)
	if sq == nil || dq == nil {
		return
	}
	o.ValueRatio, o.ValueString = nil, ""
	o.Component = append(o.Component,
		fhir.ObservationComponent{Code: systolicCode, ValueQuantity: sq},
		fhir.ObservationComponent{Code: diastolicCode, ValueQuantity: dq})
}

// bpReading is a systolic or diastolic Observation of a report, written
// under ref; stem is the key stem an OBX of its time outside any report
// has (bpReadings.outside).
type bpReading struct {
	o    *fhir.Observation
	ref  fhir.Reference
	stem string
}

// bpReadings are the systolic and diastolic readings among a report's
// results, or among an ADT's OBX, and whether they send a blood pressure
// of their own.
type bpReadings struct {
	systolic, diastolic []bpReading
	hasBP               bool
}

// reading notes o, a result written under ref (stem as bpReading), when
// it is a systolic or diastolic reading (or a blood pressure).
func (p *bpReadings) reading(o *fhir.Observation, ref fhir.Reference, stem string) {
	switch {
	case hasLOINC(&o.Code, "85354-9"):
		p.hasBP = true
	case o.ValueQuantity == nil:
	case hasLOINC(&o.Code, "8480-6"):
		p.systolic = append(p.systolic, bpReading{o, ref, stem})
	case hasLOINC(&o.Code, "8462-4"):
		p.diastolic = append(p.diastolic, bpReading{o, ref, stem})
	}
}

// pairs calls f with each systolic and diastolic reading of one time and
// status, unless a blood pressure was sent itself: FHIR R4's blood
// pressure profile and US Core Blood Pressure want the two as the
// components of one Observation coded 85354-9, and a search for it finds
// no other.
func (p *bpReadings) pairs(f func(s, d bpReading)) {
	if p.hasBP {
		return
	}
	used := make([]bool, len(p.diastolic))
	for _, s := range p.systolic {
		for j, d := range p.diastolic {
			if used[j] || s.o.Status != d.o.Status || s.o.EffectiveDateTime != d.o.EffectiveDateTime {
				continue
			}
			used[j] = true
			f(s, d)
			break
		}
	}
}

// bloodPressureOf is the blood pressure of the readings s and d, keyed
// key, derived from the two, which go as before.
func bloodPressureOf(s, d bpReading, key fhir.Identifier) *fhir.Observation {
	bp := &fhir.Observation{ResourceType: "Observation", Identifier: []fhir.Identifier{key}, BasedOn: s.o.BasedOn,
		Status: s.o.Status, Category: s.o.Category, Code: bpCode, Subject: s.o.Subject, Encounter: s.o.Encounter,
		EffectiveDateTime: s.o.EffectiveDateTime, Issued: s.o.Issued, Specimen: s.o.Specimen,
		DerivedFrom: []fhir.Reference{s.ref, d.ref}}
	for _, o := range []*fhir.Observation{s.o, d.o} {
		for _, p := range o.Performer {
			if !slices.ContainsFunc(bp.Performer, func(q fhir.Reference) bool { return q.Reference == p.Reference }) {
				bp.Performer = append(bp.Performer, p)
			}
		}
		bp.Component = append(bp.Component, fhir.ObservationComponent{Code: o.Code, ValueQuantity: o.ValueQuantity,
			Interpretation: o.Interpretation, ReferenceRange: o.ReferenceRange})
	}
	return bp
}

// bloodPressures adds the blood pressure of each pair of the report's
// readings (bpReadings.pairs). Its key follows from the report's, as a
// result's without OBX-21 does; it is one of the report's results.
func (r *reportBuilder) bloodPressures(x *conv) {
	r.pairs(func(s, d bpReading) {
		v := x.slabs.text.cat(r.stem, ".", "85354-9")
		if n := r.countKey(v); n > 1 {
			v += "#" + strconv.Itoa(n)
		}
		key := fhir.Identifier{System: x.system("obx"), Value: v}
		r.dr.Result = append(r.dr.Result, x.add("Observation", key, bloodPressureOf(s, d, key)))
	})
}

// outside adds the blood pressure of each pair of readings outside any
// report (an ADT's OBX), keyed as an OBX coded 85354-9 of their time in
// that message would be (newObservation), so a re-send writes the same
// one.
func (p *bpReadings) outside(x *conv) {
	p.pairs(func(s, d bpReading) {
		key := fhir.Identifier{System: x.system("obx"), Value: x.slabs.text.cat(s.stem, ".", "85354-9")}
		x.add("Observation", key, bloodPressureOf(s, d, key))
	})
}

// imagingSections are the OBR-24 sections (table 0074, and the local
// codes MR, US, XRY senders use) whose Observations are "imaging".
var imagingSections = map[string]bool{
	"RAD": true, "CT": true, "NMR": true, "US": true, "XRC": true, "RX": true, "NMS": true, "RUS": true,
	"CTH": true, "VUS": true, "IMG": true, "OUS": true, "CUS": true, "MR": true, "XRY": true,
}

// labSections are the table 0074 sections that are laboratory work. Their
// reports also get the category v2-0074#LAB, which US Core
// DiagnosticReport for Laboratory Results requires whatever the section;
// imaging and other non-lab sections (EC, PF, RT, ...) do not.
var labSections = map[string]bool{
	"LAB": true, "BG": true, "BLB": true, "CG": true, "CH": true, "CP": true, "GE": true, "HM": true,
	"IMM": true, "MB": true, "MCB": true, "MYC": true, "OSL": true, "SP": true, "SR": true, "TX": true,
	"URN": true, "VR": true,
}

// Shared, read-only report categories (callers must not modify them).
var labCategory = fhir.CodeableConcept{Coding: []fhir.Coding{{System: v2Table + "0074", Code: "LAB"}}}

type reportBuilder struct {
	seg hl7v2.Segment
	dr  *fhir.DiagnosticReport
	key fhir.Identifier
	// stem is key as the stem of the keys minted for the report's
	// Observations and Specimens (reportStem).
	stem     string
	category string // observation-category code for its Observations
	notes    []string
	specimen *fhir.Reference // the SPM the following OBX describe
	// sec labels the report as a CDA document in its presentedForm
	// labels itself (cdaConfidentiality); nil when none does.
	sec *labels
	// results is how many OBX follow the OBR (an upper bound on its
	// results), to size dr.Result and obsPool once.
	results int
	// obsPool holds the builders of the report's Observations, allocated
	// together on the first.
	obsPool []obsBuilder
	// obsSeen counts the minted Observation keys: the first few in a
	// slice (a report has a handful of results, mostly with distinct
	// codes), all of them in obsKeys past that.
	obsSeen []string
	obsKeys map[string]int
	// The report's systolic and diastolic readings, and whether it sends
	// a blood pressure of its own (bloodPressures).
	bpReadings
	// Storage for the report and its short slices: one allocation.
	drv     fhir.DiagnosticReport
	ids     [2]fhir.Identifier
	basedOn [1]fhir.Reference
	seen    [8]string
}

// countKey records one more Observation minted with key v and returns how
// many there now are.
func (r *reportBuilder) countKey(v string) int {
	if r.obsKeys == nil {
		n := 1
		for _, k := range r.obsSeen {
			if k == v {
				n++
			}
		}
		if len(r.obsSeen) < len(r.seen) {
			if r.obsSeen == nil {
				r.obsSeen = r.seen[:0]
			}
			r.obsSeen = append(r.obsSeen, v)
			return n
		}
		r.obsKeys = make(map[string]int, 2*len(r.seen))
		for _, k := range r.obsSeen {
			r.obsKeys[k]++
		}
	}
	r.obsKeys[v]++
	return r.obsKeys[v]
}

// sectionCategories are the Category of a report of each known section
// (OBR-24), shared and read-only like observationCategories: LAB alone is
// labCategory, the other lab sections add their own code, and the rest
// have only theirs.
var sectionCategories = func() map[string][]fhir.CodeableConcept {
	m := map[string][]fhir.CodeableConcept{"LAB": {labCategory}}
	own := func(s string) fhir.CodeableConcept {
		return fhir.CodeableConcept{Coding: []fhir.Coding{{System: v2Table + "0074", Code: s}}}
	}
	for s := range labSections {
		if s != "LAB" {
			m[s] = []fhir.CodeableConcept{labCategory, own(s)}
		}
	}
	for s := range imagingSections {
		if !labSections[s] {
			m[s] = []fhir.CodeableConcept{own(s)}
		}
	}
	return m
}()

// resultsAfter counts the OBX between seg and the next segment that closes
// a report (OBR, ORC, PID): at most that many results join its report.
func (x *conv) resultsAfter(seg hl7v2.Segment) int {
	segs := x.m.Segments()
	n := 0
	for i := seg.Pos(); i > 0 && i < len(segs); i++ {
		switch segs[i].Name {
		case "OBX":
			n++
		case "OBR", "ORC", "PID":
			return n
		}
	}
	return n
}

// reportStem is the stem of the keys minted for a report's Observations
// and Specimens (those without an identifier of their own): the report
// key's system, less the gateway's base and the sender's scope that every
// minted system already carries, then "/" and its value, e.g.
// "filler/1001" or "clinic-a:placer/1001". The value alone is not enough:
// one lab (one sender scope) reports on orders from several placers, whose
// numbers may be equal, and a report keyed by a filler number may share
// its number with another keyed by a placer number; their results would
// then mint one Observation, and the second patient's result would
// overwrite the first's.
func (x *conv) reportStem(key fhir.Identifier) string {
	sys := key.System
	if rest, ok := strings.CutPrefix(sys, x.base()+":"); ok {
		sys = strings.TrimPrefix(rest, x.scope+":")
	}
	return x.slabs.text.cat(sys, "/", key.Value)
}

// newReport starts a DiagnosticReport from OBR (v2-to-FHIR "OBR to
// DiagnosticReport"). Its key is the filler order number (OBR-3), else the
// placer's (OBR-2), else the patient and OBR-7 (or the message control id)
// and OBR-1. An order number the OBR leaves out is its ORC's (ORC-3,
// ORC-2; orc may be empty): HL7 v2.5.1 asks it in one of the two ("If the
// placer order number is not present in the ORC, it must be present in
// the associated OBR and vice versa"), and the IG's ORC[DiagnosticReport]
// map makes them the report's identifiers.
func (x *conv) newReport(obr, orc hl7v2.Segment) (*reportBuilder, error) {
	r := x.slabs.reports.one()
	r.seg, r.results = obr, x.resultsAfter(obr)
	r.drv = fhir.DiagnosticReport{ResourceType: "DiagnosticReport", Subject: x.patientRef, Encounter: x.encRef}
	dr := &r.drv
	r.dr = dr
	dr.Identifier = r.ids[:0] // at most two (filler, placer), and at least one
	filler, placer := obr.Field(3), obr.Field(2)
	if filler.Text(1) == "" {
		filler = orc.Field(3)
	}
	if placer.Text(1) == "" {
		placer = orc.Field(2)
	}
	if id, ok := x.eiValue(filler, "FILL", "filler"); ok {
		dr.Identifier = append(dr.Identifier, id)
		r.key = id
	}
	if id, ok := x.eiValue(placer, "PLAC", "placer"); ok {
		dr.Identifier = append(dr.Identifier, id)
		if r.key.Value == "" {
			r.key = id
		}
	}
	if r.key.Value == "" {
		// No order number: the patient, the observation time (OBR-7)
		// and the test (OBR-4), which a re-send under a new MSH-10
		// repeats, and which keep two tests taken at one time, sent in
		// two messages, two reports; the control id only when the OBR
		// has no time either.
		base := x.controlID
		if t := obr.Field(7).Text(1); t != "" {
			base = x.slabs.text.cat(x.patientKey, "@", t, ".", obr.Field(4).Text(1))
		}
		r.key = fhir.Identifier{System: x.system("report"), Value: base + "-" + orStr(obr.Field(1).Text(1), strconv.Itoa(obr.Pos()))}
		dr.Identifier = append(dr.Identifier, r.key)
	}
	r.stem = x.reportStem(r.key)
	code := x.cwe(obr.Field(4).Rep(1), "")
	if code == nil {
		return nil, x.badField(obr, 4, "universal service identifier is empty")
	}
	dr.Code = *code
	dr.Status = obrStatus[strings.ToUpper(obr.Field(25).Text(1))]
	if dr.Status == "" {
		dr.Status = "unknown"
	}
	section := strings.ToUpper(obr.Field(24).Text(1))
	if section == "" {
		section = "LAB"
	}
	switch cats, ok := sectionCategories[section]; {
	case ok:
		dr.Category = cats
	case labSections[section]:
		dr.Category = []fhir.CodeableConcept{labCategory, {Coding: []fhir.Coding{{System: v2Table + "0074", Code: section}}}}
	default:
		dr.Category = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: v2Table + "0074", Code: section}}}}
	}
	r.category = "laboratory"
	if imagingSections[section] {
		r.category = "imaging"
	}
	start, err := x.fieldDateTime(obr, 7)
	if err != nil {
		return nil, err
	}
	end, err := x.fieldDateTime(obr, 8)
	if err != nil {
		return nil, err
	}
	if endsBefore(start, end) {
		// per-1: an end before the start says nothing sure; OBR-7, the
		// time the results are relevant for, stands alone as without one.
		end = ""
	}
	if end != "" && start != "" {
		dr.EffectivePeriod = &fhir.Period{Start: start, End: end}
	} else {
		dr.EffectiveDateTime = start
	}
	if dr.Issued, err = x.instant(obr, 22); err != nil {
		return nil, err
	}
	// OBR-32 principal result interpreter is an NDL whose first component
	// is a CNN: the person's id and name sit in subcomponents.
	for rep := range obr.Field(32).RepsSeq() {
		if ref := x.cnn(rep.Comp(1)); ref != nil {
			dr.ResultsInterpreter = append(dr.ResultsInterpreter, *ref)
		}
	}
	return r, nil
}

func (r *reportBuilder) note(nte hl7v2.Segment) {
	if t := nteText(nte); t != "" {
		r.notes = append(r.notes, t)
	}
}

func (r *reportBuilder) finish(x *conv) fhir.Reference {
	if len(r.notes) > 0 {
		r.dr.Conclusion = strings.Join(r.notes, "\n")
	}
	dr := r.dr
	// US Core us-core-8 and us-core-9: a released report says when,
	// though the sender left OBR-7 or OBR-22 empty.
	dr.AbsentTimes()
	if r.sec == nil {
		return x.add("DiagnosticReport", r.key, dr)
	}
	// A CDA document the report is presented as labels the report
	// beside its order's ORC-28, as TXA-18 and the CDA label a document.
	prev := x.orderSec
	sec := newLabels()
	sec.Merge(r.sec, true)
	sec.Merge(prev, true)
	x.orderSec = sec
	ref := x.add("DiagnosticReport", r.key, dr)
	x.orderSec = prev
	return ref
}

type obsBuilder struct {
	o *fhir.Observation
	// statusOnly marks an OBX-11 "U" without a value (OBX-5 empty, or
	// only padding, as obxValue reads it): it only says the
	// preliminary result an earlier message sent is now final. A PUT of
	// it would replace that Observation with one that has no value, so
	// it is referenced, not written (conv.addExisting).
	statusOnly bool
	obs        fhir.Observation // o points here: one allocation for both
	// keys backs o.Identifier; keys[0] is the business key the
	// Observation is written under (nothing changes it once set).
	keys [1]fhir.Identifier
	// Backing arrays for what nearly every result has one of, so that the
	// Observation's slices cost no allocations of their own.
	interp [1]fhir.CodeableConcept
	ranges [1]fhir.ObservationReferenceRange
}

func (b *obsBuilder) note(nte hl7v2.Segment) {
	if t := nteText(nte); t != "" {
		b.o.Note = append(b.o.Note, fhir.Annotation{Text: t})
	}
}

func (b *obsBuilder) finish(x *conv) (fhir.Reference, error) {
	o := b.o
	if b.statusOnly {
		ref := x.addExisting("Observation", b.keys[0], o)
		u := ref.Reference // "Observation/<id>"
		if x.byURN("Observation") {
			u = identifierSearch("Observation", b.keys[0])
		}
		x.finals = append(x.finals, u)
		return ref, nil
	}
	return x.add("Observation", b.keys[0], o), nil
}

// nteText joins NTE-3's repetitions as lines.
func nteText(nte hl7v2.Segment) string {
	var lines []string
	for rep := range nte.Field(3).RepsSeq() {
		lines = append(lines, rep.Trimmed())
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// newObservation converts OBX (v2-to-FHIR "OBX to Observation"); OBX-2
// chooses value[x].
func (x *conv) newObservation(obx hl7v2.Segment, r *reportBuilder) (*obsBuilder, error) {
	var b *obsBuilder
	switch {
	case r != nil && len(r.obsPool) > 0:
		b, r.obsPool = &r.obsPool[0], r.obsPool[1:]
	case r != nil && r.results > 1 && r.obsPool == nil:
		r.obsPool = x.slabs.observations.chunk(r.results)
		b, r.obsPool = &r.obsPool[0], r.obsPool[1:]
	default:
		b = x.slabs.observations.one()
	}
	b.obs = fhir.Observation{ResourceType: "Observation", Subject: x.patientRef, Encounter: x.encRef}
	o := &b.obs
	b.o = o
	code := x.cwe(obx.Field(3).Rep(1), "")
	if code == nil {
		return nil, x.badField(obx, 3, "observation identifier is empty")
	}
	o.Code = *code
	status := strings.ToUpper(obx.Field(11).Text(1))
	o.Status = obxStatus[status]
	if o.Status == "" {
		o.Status = "unknown"
	}
	category := "laboratory"
	if r != nil {
		category = r.category
	}
	if category == "laboratory" && isVitalSign(code) {
		category = "vital-signs"
		if r != nil && !isVitalSign(&r.dr.Code) {
			// A member of a report that is no vital signs panel (an
			// arterial blood gas's oxygen saturation, 2708-6): a
			// laboratory result still, and a vital sign by its code.
			category = "laboratory+vital-signs"
		}
	}
	o.Category = observationCategories[category]
	if r != nil {
		o.BasedOn = r.dr.BasedOn
		o.Specimen = r.specimen
	}

	if id, ok := x.eiValue(obx.Field(21), "", "obx"); ok {
		b.keys[0] = id
	} else {
		base := x.controlID
		if r != nil {
			base = r.stem
		} else {
			base = x.outsideStem(obx)
		}
		// Joined in the text arena: every Observation mints one.
		t := &x.slabs.text
		var v string
		if sub := obx.Field(4).Text(1); sub != "" {
			v = t.cat(base, ".", orStr(firstCode(code), code.Text), ".", sub)
		} else {
			v = t.cat(base, ".", orStr(firstCode(code), code.Text))
		}
		if r != nil {
			if n := r.countKey(v); n > 1 {
				v += "#" + strconv.Itoa(n)
			}
		}
		b.keys[0] = fhir.Identifier{System: x.system("obx"), Value: v}
	}
	o.Identifier = b.keys[:]

	units := vitalUnit(code, unitsOf(obx.Field(6).Rep(1))) // for the value and the range
	absent, err := x.obxValue(obx, o, units)
	if err != nil {
		return nil, err
	}
	b.statusOnly = status == "U" && absent
	if hasLOINC(code, "85354-9") {
		x.bloodPressureValue(o, units)
	}
	eff, err := x.fieldDateTime(obx, 14)
	if err != nil {
		return nil, err
	}
	if eff == "" && r != nil {
		eff = r.dr.EffectiveDateTime
		if r.dr.EffectivePeriod != nil {
			eff = r.dr.EffectivePeriod.Start
		}
	}
	o.EffectiveDateTime = eff
	if r != nil {
		o.Issued = r.dr.Issued
	}
	for rep := range obx.Field(8).RepsSeq() {
		if cc := x.cwe(rep, ""); cc != nil {
			// The IG's InterpretationCodes map: a v2-0078 code is the
			// v3 code of its spelling. A code without CWE.3 is taken
			// for one when v3 has it; a lab's own flag ("*", "CRIT")
			// keeps no system, and one labelled HL70078 that v3 lacks
			// stays in v2-0078, rather than a code v3 does not have.
			if len(cc.Coding) > 0 {
				if c := &cc.Coding[0]; (c.System == "" || c.System == v2Table+"0078") && v3Interpretations[c.Code] {
					// CWE.7 versions table 0078, not the v3 code system.
					c.System = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
					c.Version = ""
				}
			}
			if o.Interpretation == nil {
				o.Interpretation = b.interp[:0]
			}
			o.Interpretation = append(o.Interpretation, *cc)
		}
	}
	if rr, ok := x.referenceRange(obx.Field(7).Text(1), units); ok {
		b.ranges[0] = rr
		o.ReferenceRange = b.ranges[:]
	}
	o.Method = x.cwe(obx.Field(17).Rep(1), "")
	for rep := range obx.Field(16).RepsSeq() {
		if ref := x.practitioner(rep); ref != nil {
			o.Performer = append(o.Performer, *ref)
		}
	}
	// The performing organization (OBX-23, an XON) and its address
	// (OBX-24): the IG's OBX[Observation] map gives them performer
	// (Organization) and its address; a lab CLIA has name itself and
	// its address on the report. With its medical director (OBX-25) the
	// performer is the director's role there (directorRole).
	org := x.organization(obx.Field(23).Rep(1), obx.Field(24).Rep(1), hl7v2.Value{})
	switch dir := x.practitioner(obx.Field(25).Rep(1)); {
	case dir != nil && (dir.Reference != "" || dir.Identifier != nil):
		o.Performer = append(o.Performer, x.directorRole(dir, org))
	default:
		// No director, or one without an id, so nobody to
		// hold the role: the lab and the director by name.
		if org != nil {
			o.Performer = append(o.Performer, *org)
		}
		if dir != nil {
			o.Performer = append(o.Performer, *dir)
		}
	}
	return b, nil
}

// mdirCode is PractitionerRole.code of a performing organization's
// medical director (shared and read-only).
var mdirCode = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: v2Table + "0912", Code: "MDIR", Display: "Medical Director"}}}}

// directorRole is the performer the IG's OBX[Observation] map makes of
// OBX-25 (Performing Organization Medical Director, an XCN): a
// PractitionerRole whose practitioner is the director (dir), whose code
// is MDIR (v2-0912) and whose organization is OBX-23's (org, if any).
// Its key follows from the director's and the organization's, so every
// OBX of a report naming them refers to one, and a re-send writes the
// same.
func (x *conv) directorRole(dir, org *fhir.Reference) fhir.Reference {
	at := ""
	if org != nil {
		at = orStr(refID(org.Reference), org.Display)
	}
	who := refID(dir.Reference)
	if dir.Reference == "" {
		// A director named by id alone (nameless): the id the
		// Practitioner keyed by that identifier has.
		var urn [urnLen]byte
		uuid5URN(&urn, "Practitioner", dir.Identifier.System, dir.Identifier.Value)
		who = string(urn[len("urn:uuid:"):])
	}
	key := fhir.Identifier{System: x.system("practitionerrole"), Value: x.slabs.text.cat("MDIR.", who, "@", at)}
	role := &fhir.PractitionerRole{ResourceType: "PractitionerRole", Identifier: []fhir.Identifier{key},
		Practitioner: dir, Organization: org, Code: mdirCode}
	ref := x.add("PractitionerRole", key, role)
	ref.Display = dir.Display
	return ref
}

// refID is the id a reference names: what follows "Type/" or
// "urn:uuid:".
func refID(ref string) string {
	return ref[strings.LastIndexAny(ref, "/:")+1:]
}

// obxValue sets value[x] from OBX-5 according to OBX-2. An OBX-5 that
// gives no value (empty, or only padding, empty repetitions or
// components) gets a dataAbsentReason instead, and absent is true.
func (x *conv) obxValue(obx hl7v2.Segment, o *fhir.Observation, units quantityUnit) (absent bool, err error) {
	f := obx.Field(5)
	if !f.Empty() && !f.IsNull() {
		if err := x.obxValueOf(obx, f, o, units); err != nil {
			return false, err
		}
	}
	if valued(o) || len(o.Component) > 0 {
		return false, nil
	}
	// No value: US Core's result Observations (us-core-2) want a
	// dataAbsentReason instead. One still pending (OBX-11 I or O)
	// is temp-unknown, one the lab could not obtain (X)
	// not-performed, one not sought (N) not-asked, as the IG's
	// OBX[Observation] map says (IF OBX-11 IS "N":
	// dataAbsentReason "not-asked"); otherwise the message just
	// does not say.
	reason := "unknown"
	switch {
	case strings.EqualFold(obx.Field(11).Text(1), "N"):
		reason = "not-asked"
	case o.Status == "registered":
		reason = "temp-unknown"
	case o.Status == "cancelled":
		reason = "not-performed"
	}
	o.DataAbsentReason = absentReasons[reason]
	return true, nil
}

// valued reports whether o has a value[x] obxValue sets, or a
// dataAbsentReason.
func valued(o *fhir.Observation) bool {
	return o.ValueQuantity != nil || o.ValueCodeableConcept != nil || o.ValueString != "" || o.ValueRange != nil || o.ValueRatio != nil ||
		o.ValueTime != "" || o.ValueDateTime != "" || o.ValuePeriod != nil || o.DataAbsentReason != nil
}

// obxValueOf sets value[x] from f, a valued OBX-5.
func (x *conv) obxValueOf(obx hl7v2.Segment, f hl7v2.Value, o *fhir.Observation, units quantityUnit) error {
	typ := strings.ToUpper(obx.Field(2).Text(1))
	switch typ {
	case "ED", "RP":
		// Documents travel as DocumentReference, not Observation.value.
		o.DataAbsentReason = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/data-absent-reason", Code: "unsupported"}}}
		return nil
	case "NM", "SN", "NR", "CE", "CWE", "CNE", "CF", "CV", "IS", "ID", "DT", "TS", "DTM", "TM", "DR":
		// OBX-5 repeats, but value[x] does not: several values become
		// components with the observation's code (the IG's
		// OBX[Observation-Component] map) and the observation itself
		// has none (obs-7), rather than keeping the first and losing
		// the others.
		// A repetition that is the explicit null ("") is no value.
		n, first := 0, hl7v2.Value{}
		for rep := range f.RepsSeq() {
			if !rep.Empty() && !rep.IsNull() {
				if n == 0 {
					first = rep
				}
				n++
			}
		}
		if n > 1 {
			for rep := range f.RepsSeq() {
				if rep.Empty() || rep.IsNull() {
					continue
				}
				var v fhir.Observation
				if err := x.obxOne(obx, typ, rep, &v, units); err != nil {
					return err
				}
				if !valued(&v) {
					continue // only padding
				}
				o.Component = append(o.Component, fhir.ObservationComponent{Code: o.Code,
					ValueQuantity: v.ValueQuantity, ValueCodeableConcept: v.ValueCodeableConcept,
					ValueString: v.ValueString, ValueRange: v.ValueRange, ValueRatio: v.ValueRatio,
					ValueTime: v.ValueTime, ValueDateTime: v.ValueDateTime, ValuePeriod: v.ValuePeriod,
					DataAbsentReason: v.DataAbsentReason})
			}
			return nil
		}
		if n == 0 {
			return nil
		}
		return x.obxOne(obx, typ, first, o, units)
	}
	// ST, TX, FT, and anything textual: repetitions are lines. They
	// are joined as they are read, not held as strings first: a field
	// of a great many repetitions (~~~~) cost 16 bytes a line.
	var first string
	var lines strings.Builder
	n := 0
	for rep := range f.RepsSeq() {
		var line string
		if typ == "VR" {
			// A value range, low and high: the IG's OBX[Observation]
			// map has it valueString OBX-5.1 + "-" + OBX-5.2, not the
			// raw text with its component separator. One with
			// neither limit is no range, not the value "-".
			lo, hi := rep.Text(1), rep.Text(2)
			if lo == "" && hi == "" {
				continue
			}
			line = lo + "-" + hi
		} else if typ == "TX" {
			// TX is laid out with spaces: HL7 v2 (2.A.79) has its
			// leading spaces kept and its trailing ones removed.
			line = strings.TrimRightFunc(rep.String(), unicode.IsSpace)
		} else {
			line = rep.Trimmed()
		}
		switch n++; n {
		case 1:
			first = line // a lone line is the value as it is
			continue
		case 2:
			// Decoded, the lines are mostly no longer than the field.
			lines.Grow(len(f.Raw()))
			lines.WriteString(first)
		}
		lines.WriteByte('\n')
		lines.WriteString(line)
	}
	if n > 1 {
		first = lines.String()
		if strings.TrimSpace(first) == "" {
			// Only empty repetitions ("~"): no value, as an empty
			// OBX-5 (obxValue), not the line breaks between them.
			first = ""
		}
	}
	o.ValueString = first
	return nil
}

// obxOne sets o's value[x] from first, one OBX-5 value of the
// non-textual type typ.
func (x *conv) obxOne(obx hl7v2.Segment, typ string, first hl7v2.Value, o *fhir.Observation, units quantityUnit) error {
	switch typ {
	case "NM":
		s := strings.TrimSpace(first.Trimmed())
		if q := x.quantityIn(s, units); q != nil {
			o.ValueQuantity = q
			return nil
		}
		if q := x.comparatorQuantity(s, units); q != nil {
			o.ValueQuantity = q
			return nil
		}
		// Not a number after all: keep the text, with the OBX-6 unit
		// when it holds an amount for the unit to count ("5-10" per
		// high power field), as an SN's text has it (structuredNumeric).
		o.ValueString = s
		if units.unit != "" && strings.ContainsAny(s, "0123456789") {
			o.ValueString += " " + units.unit
		}
	case "SN":
		x.structuredNumeric(first, units, o)
	case "CE", "CWE", "CNE", "CF", "CV":
		o.ValueCodeableConcept = x.cwe(first, "")
	case "IS", "ID":
		o.ValueCodeableConcept = &fhir.CodeableConcept{Coding: []fhir.Coding{{Code: first.Trimmed()}}}
	case "DT":
		d, ok := x.date(first.Text(1))
		if !ok {
			return x.badField(obx, 5, "invalid date for OBX-2 DT")
		}
		o.ValueDateTime = d
	case "TS", "DTM":
		d, ok := x.dateTime(first.Text(1))
		if !ok {
			return x.badField(obx, 5, "invalid date/time for OBX-2 "+typ)
		}
		o.ValueDateTime = d
	case "TM":
		t, ok := hl7Time(first.Text(1))
		if !ok {
			return x.badField(obx, 5, "invalid time for OBX-2 TM")
		}
		o.ValueTime = t
	case "DR":
		// The IG's DR[Period]: DR.1 start, DR.2 end (each a TS before
		// v2.6, whose first subcomponent is the time).
		start, ok1 := x.dateTime(first.Comp(1).Sub(1).Trimmed())
		end, ok2 := x.dateTime(first.Comp(2).Sub(1).Trimmed())
		if !ok1 || !ok2 {
			return x.badField(obx, 5, "invalid date/time range for OBX-2 DR")
		}
		if start == "" && end == "" {
			o.DataAbsentReason = absentReasons["unknown"]
			return nil
		}
		if endsBefore(start, end) {
			// per-1: no period; the value is the result, and which end
			// is wrong it does not say.
			return x.badField(obx, 5, "invalid date/time range for OBX-2 DR: its end is before its start")
		}
		o.ValuePeriod = &fhir.Period{Start: start, End: end}
	case "NR":
		x.numericRange(first, units, o)
	}
	return nil
}

// numericRange converts an NR (the IG's NR[Range]: NR.1 low, NR.2 high,
// either may be left out) in the OBX-6 unit; what is not a number stays
// text.
func (x *conv) numericRange(v hl7v2.Value, units quantityUnit, o *fhir.Observation) {
	lo, hi := strings.TrimSpace(v.Text(1)), strings.TrimSpace(v.Text(2))
	var r fhir.Range
	if lo != "" {
		r.Low = x.quantityIn(lo, units)
	}
	if hi != "" {
		r.High = x.quantityIn(hi, units)
	}
	switch {
	case lo == "" && hi == "":
		o.DataAbsentReason = absentReasons["unknown"]
		return
	case (lo != "" && r.Low == nil) || (hi != "" && r.High == nil), r.Low != nil && r.High != nil && decimalAbove(r.Low.Value, r.High.Value):
		// Not a range FHIR can hold (a low above its high breaks rng-2):
		// the text sent. A range open on one side is its one limit;
		// trimming the dashes off "lo-hi" instead took a negative low's
		// sign too.
		o.ValueString = lo + hi
		if lo != "" && hi != "" {
			o.ValueString = lo + "-" + hi
		}
		return
	}
	o.ValueRange = &r
}

// decimalAbove reports whether FHIR decimal a is greater than b.
func decimalAbove(a, b json.Number) bool {
	x, err1 := strconv.ParseFloat(string(a), 64)
	y, err2 := strconv.ParseFloat(string(b), 64)
	return err1 == nil && err2 == nil && x > y
}

// quantity makes a Quantity of s with OBX-6 units; nil if s is not a
// decimal. A unit coded in UCUM gets system and code; otherwise only the
// unit text, because a code without a system is invalid FHIR (qty-3).
func (x *conv) quantity(s string, units hl7v2.Value) *fhir.Quantity {
	return x.quantityIn(s, unitsOf(units))
}

// quantityUnit is what a Quantity takes from a units CWE (unitsOf), read
// once for an OBX's value and both ends of its reference range.
type quantityUnit struct{ unit, system, code string }

func unitsOf(units hl7v2.Value) quantityUnit {
	var u [6]string
	units.Texts(u[:])
	// The first triplet (CWE.1-3), else the alternate (CWE.4-6), the
	// same unit in another system: a lab's own code first and UCUM
	// beside it, or UCUM alone in the alternate.
	var qu quantityUnit
	for i := 0; i < len(u); i += 3 {
		code, text, sys := u[i], u[i+1], strings.ToUpper(u[i+2])
		if qu.unit == "" {
			qu.unit = orStr(text, code)
		}
		// Feeds mark "K/uL" or "mEq/L" as UCUM too; the exchange rejects
		// an invalid UCUM code, so those keep only the unit text.
		if code != "" && (sys == "UCUM" || sys == "UCUM-CS") && ucum.Valid(code) {
			qu.system, qu.code = "http://unitsofmeasure.org", code
			break
		}
	}
	return qu
}

// vitalUnit gives u, the units of a vital sign coded code, the UCUM code
// FHIR R4's vital signs profiles (which US Core's derive from) want when
// its own UCUM code says the same: "{beats}/min" or "1/min" is the rates'
// "/min", "[in_us]" a height's "[in_i]", a BMI's "1" (or none) "kg/m2"
// (ucum.VitalUnit). A blood pressure's is its readings' "mm[Hg]". Units
// not in UCUM, and ones that say something else, stay as sent.
func vitalUnit(code *fhir.CodeableConcept, u quantityUnit) quantityUnit {
	if u.system == "" && u.unit != "" {
		return u
	}
	for _, c := range code.Coding {
		loinc := c.Code
		if loinc == "85354-9" {
			loinc = "8480-6"
		}
		if c.System != "http://loinc.org" || !ucum.VitalSign(loinc) {
			continue
		}
		if a, ok := ucum.VitalUnit(loinc, u.code); ok && a != u.code {
			if u.unit == u.code {
				u.unit = a
			}
			u.system, u.code = "http://unitsofmeasure.org", a
		}
		break
	}
	return u
}

// quantityIn is quantity with the units read already.
func (x *conv) quantityIn(s string, u quantityUnit) *fhir.Quantity {
	d, ok := fhirDecimal(s)
	if !ok {
		return nil
	}
	q := x.slabs.quantities.next()
	*q = fhir.Quantity{Value: json.Number(d), Unit: u.unit, System: u.system, Code: u.code}
	return q
}

func (x *conv) comparatorQuantity(s string, units quantityUnit) *fhir.Quantity {
	for _, c := range []string{"<=", ">=", "<", ">"} {
		if strings.HasPrefix(s, c) {
			if q := x.quantityIn(strings.TrimSpace(s[len(c):]), units); q != nil {
				q.Comparator = c
				return q
			}
		}
	}
	return nil
}

// structuredNumeric converts an SN: comparator, num1, separator, num2.
// As the IG's OBX[Observation] map has it, "<>" (not equal) is text
// whatever the separator; a ratio's comparator is its numerator's
// (SN[Ratio]: SN.1 IF NOT EQUAL TO "=" numerator.comparator), and OBX-6
// is the unit of its numerator and its denominator both. A Range has
// none, and the IG keeps a range's only in its original text, so a range
// with one stays text here (with its unit) rather than reading as the
// plain range.
func (x *conv) structuredNumeric(v hl7v2.Value, units quantityUnit, o *fhir.Observation) {
	cmp, n1, sep, n2 := v.Text(1), v.Text(2), v.Text(3), v.Text(4)
	plain := cmp == "" || cmp == "="
	switch {
	case sep == "-" && n1 != "" && n2 != "" && plain:
		lo, hi := x.quantityIn(n1, units), x.quantityIn(n2, units)
		if lo != nil && hi != nil && !decimalAbove(lo.Value, hi.Value) { // rng-2
			o.ValueRange = &fhir.Range{Low: lo, High: hi}
			return
		}
	case (sep == ":" || sep == "/") && n1 != "" && n2 != "":
		a, b := x.quantityIn(n1, units), x.quantityIn(n2, units)
		switch cmp {
		case "", "=":
		case "<", ">", "<=", ">=":
			if a != nil {
				a.Comparator = cmp
			}
		default:
			a = nil
		}
		if a != nil && b != nil {
			o.ValueRatio = &fhir.Ratio{Numerator: a, Denominator: b}
			return
		}
	case sep == "" && n2 == "":
		if q := x.quantityIn(n1, units); q != nil {
			switch cmp {
			case "<", ">", "<=", ">=":
				q.Comparator = cmp
			case "", "=":
			default:
				q = nil
			}
			if q != nil {
				o.ValueQuantity = q
				return
			}
		}
	}
	// Text, with the unit, as the IG's map writes such an SN (OBX-5.1
	// ... OBX-5.4, then OBX-6).
	o.ValueString = strings.TrimSpace(cmp + n1 + sep + n2)
	if units.unit != "" && o.ValueString != "" {
		o.ValueString += " " + units.unit
	}
}

// referenceRange reads OBX-7 into quantities in the OBX-6 unit, else
// keeps text; false when OBX-7 is empty. HL7 v2 writes a range "lower-upper"
// (LRI feeds "lower to upper"), a lower limit alone "> lower" and an upper
// limit alone "< upper". A one-sided limit also keeps its text: FHIR's
// low and high are inclusive, and "<5" says 5 itself is out of range.
// Anything else ("0.3-", "negative") is text only.
func (x *conv) referenceRange(s string, units quantityUnit) (fhir.ObservationReferenceRange, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return fhir.ObservationReferenceRange{}, false
	}
	// " to " first: in "-10 to -5" the first dash after the start is the
	// upper limit's sign, not the separator.
	i, sep := indexTo(s), len(" to ")
	if i < 0 {
		i, sep = strings.IndexByte(s[1:], '-')+1, 1
	}
	if i > 0 {
		lo, hi := x.quantityIn(strings.TrimSpace(s[:i]), units), x.quantityIn(strings.TrimSpace(s[i+sep:]), units)
		if lo != nil && hi != nil {
			lo.Comparator, hi.Comparator = "", ""
			return fhir.ObservationReferenceRange{Low: lo, High: hi}, true
		}
	}
	if q := x.comparatorQuantity(s, units); q != nil {
		lower := q.Comparator[0] == '>'
		q.Comparator = "" // SimpleQuantity
		if lower {
			return fhir.ObservationReferenceRange{Low: q, Text: s}, true
		}
		return fhir.ObservationReferenceRange{High: q, Text: s}, true
	}
	return fhir.ObservationReferenceRange{Text: s}, true
}

// indexTo is the index of the first " to " (any case) in s, or -1.
func indexTo(s string) int {
	for j := 0; j+4 <= len(s); j++ {
		if s[j] == ' ' && s[j+1]|0x20 == 't' && s[j+2]|0x20 == 'o' && s[j+3] == ' ' {
			return j
		}
	}
	return -1
}

// fhirDecimal normalises s to FHIR's decimal grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)? keeping the fractional digits (precision).
func fhirDecimal(s string) (string, bool) {
	s = strings.TrimSpace(s)
	orig := s
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, hasDot := s, "", false
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac, hasDot = s[:i], s[i+1:], true
	}
	if intPart == "" && frac == "" {
		return "", false
	}
	if (intPart != "" && !allDigits(intPart)) || (frac != "" && !allDigits(frac)) {
		return "", false
	}
	_ = hasDot
	if !neg && s == orig && intPart != "" && (intPart[0] != '0' || intPart == "0") && (!hasDot || frac != "") {
		return s, true // already canonical: no copy
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out, true
}

// hl7Time converts TM HH[MM[SS[.S]]] to FHIR time hh:mm:ss.
func hl7Time(s string) (string, bool) {
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		s = s[:i]
	}
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i:]
	}
	if !allDigits(s) || len(s) < 2 || len(s) > 6 || len(s)%2 != 0 {
		return "", false
	}
	s += "0000"[:6-len(s)]
	if digitsNum(s, 0, 2) > 23 || digitsNum(s, 2, 4) > 59 || digitsNum(s, 4, 6) > 59 {
		return "", false
	}
	if frac != "" && (len(frac) == 1 || !allDigits(frac[1:])) {
		return "", false
	}
	return s[:2] + ":" + s[2:4] + ":" + s[4:6] + frac, true
}

func firstCode(cc *fhir.CodeableConcept) string {
	if cc == nil || len(cc.Coding) == 0 {
		return ""
	}
	return cc.Coding[0].Code
}

// looseBase is the key stem of an OBX that belongs to no OBR: what a
// re-send of the message repeats (the specimen's identifier, the
// patient's key with the observation time), or "" when the message says
// neither and only its control id is left.
func (x *conv) looseBase(obx hl7v2.Segment) string {
	when := obx.Field(14).Text(1)
	switch {
	case x.looseStem != "" && when != "":
		return x.slabs.text.cat(x.looseStem, "@", when)
	case x.looseStem != "":
		return x.looseStem
	case when != "":
		return x.slabs.text.cat(x.patientKey, "@", when)
	}
	return ""
}

// outsideStem is the key stem of an OBX outside any report without
// OBX-21: looseBase, else the message's control id.
func (x *conv) outsideStem(obx hl7v2.Segment) string {
	return orStr(x.looseBase(obx), x.controlID)
}

// specimen converts SPM (v2.5+) to a Specimen of the report's patient. Its
// key is the filler's specimen id (SPM-2.2), else the placer's (SPM-2.1),
// else the report and SPM-1.
func (x *conv) specimen(spm hl7v2.Segment, r *reportBuilder) (fhir.Reference, error) {
	sp := &fhir.Specimen{ResourceType: "Specimen", Subject: x.patientRef, Status: "available"}
	var key fhir.Identifier
	f := spm.Field(2).Rep(1)
	for _, c := range []struct {
		comp int
		typ  string
	}{{2, "FGN"}, {1, "PGN"}} {
		ei := f.Comp(c.comp)
		val := ei.Sub(1).Trimmed()
		if val == "" {
			continue
		}
		sys, known := x.authoritySystem(ei.Sub(2).Trimmed(), ei.Sub(3).Trimmed(), ei.Sub(4).Trimmed())
		if !known {
			if ns := ei.Sub(2).Trimmed(); ns != "" {
				sys = x.base() + ":" + sanitise(ns) + ":specimen"
			} else {
				sys = x.system("specimen")
			}
		}
		id := fhir.Identifier{System: sys, Value: val}
		sp.Identifier = append(sp.Identifier, id)
		if key.Value == "" {
			key = id
		}
	}
	if key.Value == "" {
		key = fhir.Identifier{System: x.system("specimen"), Value: r.stem + "." + orStr(spm.Field(1).Text(1), strconv.Itoa(spm.Pos()))}
		sp.Identifier = append(sp.Identifier, key)
	}
	sp.Type = x.tableCC(spm.Field(4).Rep(1), "0487")
	coll := &fhir.SpecimenCollection{
		Method:   x.tableCC(spm.Field(7).Rep(1), "0488"),
		BodySite: x.tableCC(spm.Field(8).Rep(1), "0163"),
	}
	dr := spm.Field(17).Rep(1)
	start, ok1 := x.dateTime(dr.Text(1))
	end, ok2 := x.dateTime(dr.Text(2))
	if !ok1 || !ok2 {
		return fhir.Reference{}, x.badField(spm, 17, "invalid collection date/time")
	}
	if endsBefore(start, end) {
		end = "" // per-1: the collection's start stands alone, as without an end
	}
	if end != "" && start != "" {
		coll.CollectedPeriod = &fhir.Period{Start: start, End: end}
	} else {
		coll.CollectedDateTime = start
	}
	// SPM-12 is a CQ: amount ^ units, the units a CWE in subcomponents.
	if v, ok := fhirDecimal(spm.Field(12).Text(1)); ok && spm.Field(12).Text(1) != "" {
		u := spm.Field(12).Comp(2)
		q := &fhir.Quantity{Value: json.Number(v), Unit: orStr(u.Sub(2).Trimmed(), u.Sub(1).Trimmed())}
		if code := u.Sub(1).Trimmed(); code != "" && strings.EqualFold(u.Sub(3).Trimmed(), "UCUM") && ucum.Valid(code) {
			q.System, q.Code = "http://unitsofmeasure.org", code
		}
		coll.Quantity = q
	}
	if coll.Method != nil || coll.BodySite != nil || coll.CollectedDateTime != "" || coll.CollectedPeriod != nil || coll.Quantity != nil {
		sp.Collection = coll
	}
	var err error
	if sp.ReceivedTime, err = x.fieldDateTime(spm, 18); err != nil {
		return fhir.Reference{}, err
	}
	for rep := range spm.Field(24).RepsSeq() {
		if cc := x.tableCC(rep, "0493"); cc != nil {
			sp.Condition = append(sp.Condition, *cc)
		}
	}
	return x.add("Specimen", key, sp), nil
}

// resultWalk is the state ORU^R01 (oru) and OUL (oul) convert their
// segments with. Both follow the same v2-to-FHIR maps for OBR, OBX, SPM
// and NTE: an OBR opens a DiagnosticReport and an OBX an Observation, each
// open until a later segment closes it, so that the NTE after them land on
// the right one and the Observation joins the report's results. Where the
// two message structures differ (what a PV1 or a loose OBX means, where an
// SPM sits) is left to the handlers and the fields below.
type resultWalk struct {
	x      *conv
	report *reportBuilder // the open OBR, if any
	obs    *obsBuilder    // the open OBX, if any
	// orc is the ORC of the order group the next OBR heads (ORU_R01's
	// COMMON_ORDER, before its OBR; in OUL the one that follows it),
	// whose numbers the report takes when its OBR leaves them out; empty
	// where there is none.
	orc hl7v2.Segment
	// specimen is the current specimen group's (OUL R22/R23, whose SPM
	// heads the OBR and OBX that follow): an OBX outside any report
	// describes it. ORU_R01 has no such group, so it stays nil there.
	specimen *fhir.Reference
	// looseInFocus names an Observation closed outside any report in the
	// MessageHeader focus: OUL allows OBX directly under the patient or a
	// specimen as results of their own, while in ORU_R01 every OBX belongs
	// to an OBR and a stray one is written without being a focus.
	looseInFocus bool
	reports      int // DiagnosticReports written
	observations int // Observations written
	// orders are the orders the current patient's reports answer, written
	// once (reportOrder): reports of one order (a culture and its
	// susceptibilities under one placer number) share the first one's.
	orders []resultOrderRef
}

// closeObs writes the open Observation, if any, as a result of the open
// report.
func (w *resultWalk) closeObs() error {
	if w.obs == nil {
		return nil
	}
	obs := w.obs
	ref, err := obs.finish(w.x)
	w.obs = nil
	if err != nil {
		return err
	}
	w.observations++
	if w.report != nil {
		w.report.reading(obs.o, ref, "")
		if w.report.dr.Result == nil && w.report.results > 1 {
			w.report.dr.Result = w.x.slabs.refLists.chunk(w.report.results)[:0]
		}
		w.report.dr.Result = append(w.report.dr.Result, ref)
	} else if w.looseInFocus {
		w.x.focus = append(w.x.focus, ref)
	}
	return nil
}

// closeReport writes the open Observation and then the open report, if
// any; the report is a focus of the message.
func (w *resultWalk) closeReport() error {
	if err := w.closeObs(); err != nil {
		return err
	}
	if w.report == nil {
		return nil
	}
	w.report.bloodPressures(w.x)
	w.x.focus = append(w.x.focus, w.report.finish(w.x))
	w.report = nil
	w.reports++
	return nil
}

// patient closes what the previous patient had open and makes PID the
// current patient, with no visit or specimen group yet.
func (w *resultWalk) patient(pid hl7v2.Segment) error {
	if err := w.closeReport(); err != nil {
		return err
	}
	ref, err := w.x.patient(pid)
	if err != nil {
		return err
	}
	w.x.patientRef = ref
	// The keys minted from here on (reports and results without order
	// numbers, a visit without a number) are this patient's: x.patient
	// sets the scope for the message's first patient only (a merge keeps
	// the surviving patient's).
	w.x.patientKey = patientHash(&w.x.slabs.text, w.x.patientID.System, w.x.patientID.Value)
	w.x.encRef = nil
	w.specimen = nil
	// Another patient's order of the same number is not the same order
	// (a placer reusing its numbers).
	w.orders = w.orders[:0]
	return nil
}

// openReport closes the open report and opens one for OBR, which needs a
// patient before it.
func (w *resultWalk) openReport(obr hl7v2.Segment) error {
	if err := w.closeReport(); err != nil {
		return err
	}
	if w.x.patientRef == nil {
		return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing before OBR"}
	}
	r, err := w.x.newReport(obr, w.orc)
	if err != nil {
		return err
	}
	w.report = r
	return nil
}

// openObs closes the open Observation and opens one for OBX, which needs
// a patient before it. An encapsulated document (OBX-2 ED) is not an
// Observation value (R4 has no valueAttachment) but the open report's
// presented form; an ED without data carries nothing (the original message
// is kept in the Binary either way).
func (w *resultWalk) openObs(obx hl7v2.Segment) error {
	if err := w.closeObs(); err != nil {
		return err
	}
	if w.x.patientRef == nil {
		return &ContentError{Segment: "PID", Field: "PID", Reason: "required segment missing before OBX"}
	}
	// A document the lab withdraws (OBX-11 W, "post original as wrong,
	// e.g., transmitted for wrong patient", or D, "deletes the OBX
	// record") is no longer the report's presented form: the report,
	// written whole, goes without it, as its other results go
	// entered-in-error.
	withdrawn := obxStatus[strings.ToUpper(obx.Field(11).Text(1))] == "entered-in-error"
	if strings.EqualFold(obx.Field(2).Text(1), "ED") {
		if w.report != nil && withdrawn {
			return nil
		}
		if _, piece := w.x.edPiece(obx); piece {
			return nil // joined to the document it continues (encapsulated)
		}
		atts, conf, err := w.x.encapsulated(obx)
		if err != nil {
			return err
		}
		if len(atts) == 0 {
			return nil
		}
		if w.report != nil {
			w.report.dr.PresentedForm = append(w.report.dr.PresentedForm, atts...)
			if conf >= 0 {
				if w.report.sec == nil {
					w.report.sec = newLabels()
				}
				w.report.sec.Raise(conf)
			}
			return nil
		}
	}
	// A reference pointer (OBX-2 RP) to a document the sender keeps is
	// the report's presented form by URL (the IG's RP[Attachment]: RP.1
	// is the url), one for each repetition, when every RP.1 is an
	// absolute URL; otherwise it stays an Observation with
	// dataAbsentReason, and the pointers in the Binary, rather than lose
	// the ones that are no URL.
	if w.report != nil && strings.EqualFold(obx.Field(2).Text(1), "RP") {
		if atts, all := w.x.pointers(obx); all && len(atts) > 0 {
			if !withdrawn {
				w.report.dr.PresentedForm = append(w.report.dr.PresentedForm, atts...)
			}
			return nil
		}
	}
	o, err := w.x.newObservation(obx, w.report)
	if err != nil {
		return err
	}
	if w.report == nil && w.specimen != nil {
		o.o.Specimen = w.specimen
	}
	w.obs = o
	return nil
}

// reportSpecimen closes the open Observation and adds SPM as a specimen
// of the open report, if any; the OBX that follow describe it.
func (w *resultWalk) reportSpecimen(spm hl7v2.Segment) error {
	if err := w.closeObs(); err != nil {
		return err
	}
	if w.report == nil {
		return nil
	}
	ref, err := w.x.specimen(spm, w.report)
	if err != nil {
		return err
	}
	w.report.dr.Specimen = append(w.report.dr.Specimen, ref)
	w.report.specimen = &ref
	return nil
}

// note attaches NTE to the open Observation, else to the open report.
func (w *resultWalk) note(nte hl7v2.Segment) {
	if w.obs != nil {
		w.obs.note(nte)
	} else if w.report != nil {
		w.report.note(nte)
	}
}
