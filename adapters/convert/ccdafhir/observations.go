package ccdafhir

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/internal/ucum"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// dataAbsent maps nullFlavors to data-absent-reason codes, per C-CDA on
// FHIR's CF-NullFlavorDataAbsentReason (TRC is "unsupported" there). The
// map has no row for INV, DER, UNC, NAVU or QS; they follow their v3
// parent: INV and its children DER and UNC go to "error", which is to
// the infinities in data-absent-reason what INV is in v3; NAVU and QS,
// children of UNK, go to "unknown".
var dataAbsent = map[string]string{
	"UNK": "unknown", "ASKU": "asked-unknown", "NAV": "temp-unknown", "NASK": "not-asked",
	"MSK": "masked", "NA": "not-applicable", "NI": "unknown", "OTH": "unsupported",
	"NINF": "negative-infinity", "PINF": "positive-infinity", "NP": "unknown", "QS": "unknown", "TRC": "unsupported",
	"INV": "error", "DER": "error", "UNC": "error", "NAVU": "unknown",
}

// obsStatus maps statusCode to Observation.status; held and suspended
// are registered (C-CDA on FHIR CF-ResultStatus), not a final result.
func obsStatus(st string) string {
	switch st {
	case "active", "new":
		return "preliminary"
	case "held", "suspended":
		return "registered"
	case "aborted", "cancelled":
		return "cancelled"
	case "nullified":
		return "entered-in-error"
	}
	return "final"
}

// observationCategory builds the observation-category concept.
func observationCategory(cat string) []fhir.CodeableConcept {
	if cat == "" {
		return nil
	}
	return []fhir.CodeableConcept{*simpleConcept("http://terminology.hl7.org/CodeSystem/observation-category", cat, "")}
}

// vitalSignCodes maps the more specific LOINC codes C-CDA vital sign
// observations use to the code FHIR R4's vital signs profile (and US
// Core's, derived from it) fixes for that measurement: the profile wants
// its code as one coding and allows the specific one beside it
// (observation-vitalsigns.html, "Using other codes").
var vitalSignCodes = map[string][2]string{
	"3141-9": {"29463-7", "Body weight"},                         // measured
	"8306-3": {"8302-2", "Body height"},                          // lying
	"8308-9": {"8302-2", "Body height"},                          // standing
	"8287-5": {"9843-4", "Head Occipital-frontal circumference"}, // by tape measure
	"2710-2": {"2708-6", "Oxygen saturation in Arterial blood"},  // capillary, by oximetry
	// by pulse oximetry: US Core Pulse Oximetry wants it and 2708-6 both
	"59408-5": {"2708-6", "Oxygen saturation in Arterial blood"},
	"8331-1":  {"8310-5", "Body temperature"}, // oral
}

// withVitalSignCode returns code with the vital signs profile's own
// LOINC coding first when it has only a more specific one.
func withVitalSignCode(code *fhir.CodeableConcept) *fhir.CodeableConcept {
	var base [2]string
	for _, x := range code.Coding {
		if x.System != sysLOINC {
			continue
		}
		if b, ok := vitalSignCodes[x.Code]; ok && base[0] == "" {
			base = b
		}
		for _, b := range vitalSignCodes {
			if x.Code == b[0] {
				return code // the profile's code is there already
			}
		}
	}
	if base[0] == "" {
		return code
	}
	out := &fhir.CodeableConcept{Text: code.Text, Coding: make([]fhir.Coding, 0, len(code.Coding)+1)}
	out.Coding = append(append(out.Coding, fhir.Coding{System: sysLOINC, Code: base[0], Display: base[1]}), code.Coding...)
	return out
}

// observation maps a result, vital sign or social history observation and
// returns its reference ("" if it was a repeat).
func (c *converter) observation(o *act, category, within string) string {
	if strings.TrimSpace(o.NullFlavor) != "" {
		// A statement of nullFlavor NI states nothing: within an
		// organizer or another statement it is counted as not
		// converted, as one standing as an entry is (see entry).
		c.skip("observation nullFlavor")
		return ""
	}
	if negated(o) {
		// negationInd="true" denies the observation (CDA R2: HL7's "Not
		// Pregnant" example is a Pregnancy Observation of value Pregnant,
		// negated). FHIR's Observation has no negation: converted, it
		// would assert what the document denies. It stays in the
		// attached document, counted as not converted.
		c.skip("negated " + skipKey(o.TemplateID, "observation"))
		return ""
	}
	idn, ids, fresh := c.claimEntry("Observation", o, within)
	if !fresh {
		return ""
	}
	r := &fhir.Observation{ResourceType: "Observation", ID: idn.id, Identifier: ids, Status: obsStatus(status(o)),
		Category: observationCategory(category), Subject: c.subject()}
	code := concept(o.Code)
	switch {
	case hasTemplate(o.TemplateID, tplSmokingStatus) && (o.Code == nil || o.Code.Code == "ASSERTION" || o.Code.Code == ""):
		// R1.1 smoking status uses code ASSERTION; C-CDA on FHIR maps it to LOINC.
		code = simpleConcept(sysLOINC, "72166-2", "Tobacco smoking status")
	case hasTemplate(o.TemplateID, tplPregnancy) && (o.Code == nil || o.Code.Code == "ASSERTION" || o.Code.Code == ""):
		// C-CDA on FHIR (CF-social): "82810-3 (Pregnancy Status) -
		// Note: prior to 4.0, C-CDA uses ASSERTION".
		code = simpleConcept(sysLOINC, "82810-3", "Pregnancy status")
	case code == nil:
		code = simpleConcept("http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown", "Unknown")
	}
	if category == "vital-signs" {
		code = withVitalSignCode(code)
	}
	r.Code = *code
	pt, per := c.when(firstEffective(o.EffectiveTime))
	if category == "vital-signs" {
		pt, per = pointOf(pt, per)
		if pt == "" && per == nil {
			// FHIR's vital signs profile makes effective[x] 1..1:
			// a reading without a time of its own was taken at
			// its organizer's.
			pt, per = c.panelTime, nil
			if c.panelPeriod != nil {
				p := *c.panelPeriod
				per = &p
			}
		}
	}
	if hasTemplate(o.TemplateID, tplPregnancy) && per != nil {
		// C-CDA on FHIR (CF-social): "FHIR only allows a single
		// timestamp. Send the first element ... with a populated
		// timestamp" of value, low and high.
		pt = per.Start
		if pt == "" {
			pt = per.End
		}
		per = nil
	}
	r.EffectiveDateTime, r.EffectivePeriod = pt, per
	if len(o.Value) > 0 {
		c.setObsValue(r, &o.Value[0])
		if r.DataAbsentReason != nil && hasTemplate(o.TemplateID, tplPregnancy) && strings.TrimSpace(o.Value[0].NullFlavor) == "UNK" {
			// C-CDA on FHIR (CF-social): "Unknown becomes an actual
			// value with system = .../v3-NullFlavor", which US Core's
			// Pregnancy Status value set holds.
			r.DataAbsentReason = nil
			r.ValueCodeableConcept = simpleConcept("http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK", "Unknown")
		}
	}
	if !valued(r) {
		// US Core us-core-2 and FHIR's vs-2: an Observation without
		// components or members has a value or says why not. One
		// without a value element, or whose value gave none (an empty
		// <value xsi:type="PQ"/>, a PQ of "<0.5"), says so, as the
		// HL7 v2 converter's OBX without a value does.
		reason := "unknown"
		switch r.Status {
		case "registered":
			reason = "temp-unknown"
		case "cancelled":
			reason = "not-performed"
		}
		r.DataAbsentReason = simpleConcept(fhir.DataAbsentReasonSystem, reason, "")
	}
	if category == "vital-signs" {
		profileUnit(&r.Code, r.ValueQuantity)
	}
	r.Interpretation = concepts(o.InterpretationCode)
	if len(o.MethodCode) > 0 {
		r.Method = concept(&o.MethodCode[0])
	}
	if len(o.TargetSiteCode) > 0 {
		r.BodySite = concept(&o.TargetSiteCode[0])
	}
	for _, rr := range o.ReferenceRange {
		if x, ok := mapReferenceRange(rr); ok {
			r.ReferenceRange = append(r.ReferenceRange, x)
		}
	}
	if by, when := c.authorRef(o.Author); by != nil || when != "" {
		if by != nil {
			r.Performer = append(r.Performer, *by)
		}
		if inst := instantOf(when); inst != "" {
			r.Issued = inst
		}
	}
	have := refSet(r.Performer)
	for i := range o.Performer {
		if countRefChecks != nil {
			countRefChecks()
		}
		if ref := c.actor(o.Performer[i].AssignedEntity); ref != nil && !have[ref.Reference] {
			have[ref.Reference] = true
			r.Performer = append(r.Performer, *ref)
		}
	}
	if c.curEncounter != "" {
		r.Encounter = &fhir.Reference{Reference: c.curEncounter}
	}
	r.Note = notes(o)
	c.add(idn, r)
	return idn.ref
}

// profileUnit gives q, the value of the vital sign coded code, the
// vital signs profile's UCUM unit when its own says the same (an
// annotation as in "{beats}/min", a 1 factor, the US survey inch, a BMI
// whose unit is left at "1"; ucum.VitalUnit); a unit that says something
// else stays as sent.
func profileUnit(code *fhir.CodeableConcept, q *fhir.Quantity) {
	if q == nil || q.System != "" && q.System != sysUCUM {
		return
	}
	for _, x := range code.Coding {
		if x.System != sysLOINC || !ucum.VitalSign(x.Code) {
			continue
		}
		if u, ok := ucum.VitalUnit(x.Code, q.Unit); ok && (q.System != sysUCUM || q.Code != u || q.Unit != u) {
			q.Unit, q.System, q.Code = u, sysUCUM, u
		}
		return
	}
}

// pointOf makes a period that starts and ends at one time that time: C-CDA
// on FHIR (CF-vitals) has a vital signs organizer's effectiveTime "If low
// and high are identical, use effectiveDateTime", and a vital sign's
// "Prefer effectiveDateTime".
func pointOf(pt string, per *fhir.Period) (string, *fhir.Period) {
	if per != nil && per.Start != "" && per.Start == per.End {
		return per.Start, nil
	}
	return pt, per
}

// instantOf keeps a dateTime only when it is precise enough for instant.
func instantOf(dt string) string {
	if len(dt) >= 20 {
		return dt
	}
	return ""
}

// refSet is the references of refs, to add more without repeats: an
// entry may have any number of performers, and scanning those kept for
// each one grew with their square.
func refSet(refs []fhir.Reference) map[string]bool {
	have := make(map[string]bool, len(refs))
	for _, r := range refs {
		have[r.Reference] = true
	}
	return have
}

// countRefChecks, set by a test, is called for each performer checked
// against those kept, so a test can bound the work without timing it.
var countRefChecks func()

// hasRef reports whether refs contains ref.
func hasRef(refs []fhir.Reference, ref string) bool {
	for _, r := range refs {
		if r.Reference == ref {
			return true
		}
	}
	return false
}

// valued reports whether r has a value[x] or a dataAbsentReason.
func valued(r *fhir.Observation) bool {
	return r.ValueQuantity != nil || r.ValueCodeableConcept != nil || r.ValueString != "" || r.ValueBoolean != nil ||
		r.ValueInteger != nil || r.ValueRange != nil || r.ValueRatio != nil || r.ValueTime != "" || r.ValueDateTime != "" ||
		r.ValuePeriod != nil || r.DataAbsentReason != nil
}

// setObsValue maps a CDA ANY value by its xsi:type to value[x], or to
// dataAbsentReason for a nullFlavor.
func (c *converter) setObsValue(r *fhir.Observation, v *anyValue) {
	typ := strings.ToUpper(bareType(v.XSIType))
	if v.NullFlavor != "" && v.Value == "" && v.Code == "" && !otherCode(typ, v) {
		// US Core wants a value or a reason: a nullFlavor outside the
		// vocabulary gets the broadest one, as NI does.
		reason, ok := dataAbsent[v.NullFlavor]
		if !ok {
			reason = "unknown"
		}
		r.DataAbsentReason = simpleConcept("http://terminology.hl7.org/CodeSystem/data-absent-reason", reason, "")
		return
	}
	switch typ {
	case "PQ":
		r.ValueQuantity = quantity(v.Value, v.Unit)
	case "REAL", "MO":
		r.ValueQuantity = quantity(v.Value, "")
	case "INT":
		if n, err := strconv.Atoi(strings.TrimSpace(v.Value)); err == nil {
			r.ValueInteger = &n
		}
	case "IVL_PQ":
		rg := &fhir.Range{Low: pqQuantity(v.Low), High: pqQuantity(v.High)}
		switch {
		case rg.Low == nil && rg.High != nil && !boundIncluded(v.High):
			// Below what the assay reports ("<0.01"): FHIR's Range
			// includes its bounds, a comparator says "less than".
			rg.High.Comparator = "<"
			r.ValueQuantity = rg.High
		case rg.High == nil && rg.Low != nil && !boundIncluded(v.Low):
			rg.Low.Comparator = ">"
			r.ValueQuantity = rg.Low
		case rg.Low != nil || rg.High != nil:
			r.ValueRange = rg
		}
	case "RTO", "RTO_PQ_PQ", "RTO_INT_INT", "RTO_QTY_QTY":
		rt := &fhir.Ratio{Numerator: pqQuantity(v.Numerator), Denominator: pqQuantity(v.Denominator)}
		if rt.Numerator != nil && rt.Denominator != nil {
			r.ValueRatio = rt
		}
	case "BL":
		if v.Value != "" {
			r.ValueBoolean = ptr(boolAttr(v.Value))
		}
	case "TS":
		r.ValueDateTime, _ = c.dateTime(v.Value)
	case "IVL_TS":
		if lo, hi := c.tsValue(v.lowTS()), c.tsValue(v.highTS()); lo != "" || hi != "" {
			r.ValuePeriod = &fhir.Period{Start: lo, End: hi}
		}
	case "ST", "ED", "SC":
		if s := clean(v.Text); s != "" {
			r.ValueString = s
		}
	default: // CD, CE, CV, CO, CS and untyped codes
		if v.Code != "" || v.OriginalText != nil || len(v.Translation) > 0 {
			r.ValueCodeableConcept = concept(v.asCD())
		} else if v.Value != "" {
			r.ValueQuantity = quantity(v.Value, v.Unit)
		} else if s := clean(v.Text); s != "" {
			r.ValueString = s
		}
	}
}

// otherCode reports a coded value with nullFlavor (OTH: a code from
// outside the value set) that still gives the code in a translation or
// the words in originalText: that is the value, and FHIR allows no
// dataAbsentReason beside it (obs-6).
func otherCode(typ string, v *anyValue) bool {
	switch typ {
	case "", "CD", "CE", "CV", "CO", "CS":
	default:
		return false
	}
	for i := range v.Translation {
		if _, ok := coding(&v.Translation[i]); ok {
			return true
		}
	}
	return v.OriginalText != nil && clean(v.OriginalText.Text) != ""
}

// boundIncluded reads an IVXB_PQ's inclusive, true unless it is "false"
// (CDA R2's default: an interval's bound is in it).
func boundIncluded(b *pq) bool { return !strings.EqualFold(strings.TrimSpace(b.Inclusive), "false") }

// lowTS and highTS read IVL_TS bounds parsed as PQ bounds.
func (v *anyValue) lowTS() *ts {
	if v.Low == nil {
		return nil
	}
	return &ts{Value: v.Low.Value, NullFlavor: v.Low.NullFlavor}
}

func (v *anyValue) highTS() *ts {
	if v.High == nil {
		return nil
	}
	return &ts{Value: v.High.Value, NullFlavor: v.High.NullFlavor}
}

// mapReferenceRange maps an observationRange; FHIR needs low, high or text.
func mapReferenceRange(rr referenceRange) (fhir.ObservationReferenceRange, bool) {
	or := rr.ObservationRange
	if or == nil {
		return fhir.ObservationReferenceRange{}, false
	}
	var x fhir.ObservationReferenceRange
	if or.Value != nil {
		switch strings.ToUpper(bareType(or.Value.XSIType)) {
		case "IVL_PQ", "":
			x.Low, x.High = pqQuantity(or.Value.Low), pqQuantity(or.Value.High)
		}
	}
	if or.Text != nil {
		x.Text = clean(or.Text.Text)
	}
	return x, x.Low != nil || x.High != nil || x.Text != ""
}

// vitalsOrganizer maps a Vital Signs Organizer to its member observations
// and a vital-signs panel Observation (LOINC 85353-1) holding them.
func (c *converter) vitalsOrganizer(a *act) {
	panelTime, panelPeriod := pointOf(c.when(firstEffective(a.EffectiveTime)))
	c.panelTime, c.panelPeriod = panelTime, panelPeriod
	members := c.organizerMembers(a, "vital-signs", "")
	c.panelTime, c.panelPeriod = "", nil
	members = append(members, c.bloodPressures(members)...)
	idn, ids, fresh := c.claimEntry("Observation", a, "")
	if !fresh {
		return
	}
	code := fhir.CodeableConcept{Coding: []fhir.Coding{{System: sysLOINC, Code: "85353-1",
		Display: "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel"}}}
	if cc := concept(a.Code); cc != nil {
		for _, x := range cc.Coding {
			if x.System != sysLOINC || x.Code != "85353-1" {
				code.Coding = append(code.Coding, x)
			}
		}
	}
	r := &fhir.Observation{ResourceType: "Observation", ID: idn.id, Identifier: ids, Status: obsStatus(status(a)),
		Category: observationCategory("vital-signs"), Code: code, Subject: c.subject(), HasMember: members}
	r.EffectiveDateTime, r.EffectivePeriod = panelTime, panelPeriod
	if r.EffectiveDateTime == "" && r.EffectivePeriod == nil {
		r.EffectiveDateTime, r.EffectivePeriod = c.membersSpan(members)
	}
	if len(members) == 0 {
		r.DataAbsentReason = simpleConcept("http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown", "")
	}
	if c.curEncounter != "" {
		r.Encounter = &fhir.Reference{Reference: c.curEncounter}
	}
	c.add(idn, r)
}

// bloodPressures makes the blood pressure Observation of each reading
// among a vital signs organizer's members (converted, in members) that
// has both a systolic (8480-6) and a diastolic (8462-4) value taken at one
// time, and returns references to them. FHIR R4's blood pressure profile
// and US Core Blood Pressure want the two as the components of one
// Observation coded 85354-9, and C-CDA on FHIR (CF-vitals) maps them so;
// a reading of one without the other makes none (both components are
// required). The two Observations go too: FHIR's vital signs value set
// has their codes, and a search by code (8480-6) does not look into
// components. The blood pressure is derived from them.
func (c *converter) bloodPressures(members []fhir.Reference) []fhir.Reference {
	var sys, dia []fhir.Reference
	for _, m := range members {
		o := c.observationAt(m.Reference)
		switch {
		case o == nil || o.ValueQuantity == nil:
		case hasCoding(&o.Code, sysLOINC, "8480-6"):
			sys = append(sys, m)
		case hasCoding(&o.Code, sysLOINC, "8462-4"):
			dia = append(dia, m)
		}
	}
	// Each systolic pairs with the first diastolic not yet paired of
	// the same reading. The diastolics wait by reading: trying each one
	// against each systolic grew with the square of the readings.
	waiting := map[string][]fhir.Reference{}
	for _, d := range dia {
		k := readingKey(c.observationAt(d.Reference))
		waiting[k] = append(waiting[k], d)
	}
	var out []fhir.Reference
	for _, s := range sys {
		k := readingKey(c.observationAt(s.Reference))
		ds := waiting[k]
		if len(ds) == 0 {
			continue
		}
		waiting[k] = ds[1:]
		if ref := c.bloodPressure(s, ds[0]); ref != "" {
			out = append(out, fhir.Reference{Reference: ref})
		}
	}
	return out
}

// bloodPressure adds the blood pressure Observation of the systolic and
// diastolic Observations sys and dia and returns its reference. Its id
// follows from theirs, so a document sent again writes the same one.
func (c *converter) bloodPressure(sys, dia fhir.Reference) string {
	s, d := c.observationAt(sys.Reference), c.observationAt(dia.Reference)
	idn, ids, fresh := c.claim("Observation", nil, "blood pressure|"+refUUID(sys.Reference)+"|"+refUUID(dia.Reference), false)
	if !fresh {
		return ""
	}
	r := &fhir.Observation{ResourceType: "Observation", ID: idn.id, Identifier: ids, Status: s.Status,
		Category: observationCategory("vital-signs"),
		Code: fhir.CodeableConcept{Coding: []fhir.Coding{{System: sysLOINC, Code: "85354-9",
			Display: "Blood pressure panel with all children optional"}}},
		Subject: c.subject(), Encounter: s.Encounter, EffectiveDateTime: s.EffectiveDateTime, EffectivePeriod: s.EffectivePeriod,
		DerivedFrom: []fhir.Reference{sys, dia}}
	if s.Issued == d.Issued {
		r.Issued = s.Issued
	}
	have := map[string]bool{}
	for _, o := range []*fhir.Observation{s, d} {
		for _, p := range o.Performer {
			if countRefChecks != nil {
				countRefChecks()
			}
			if !have[p.Reference] {
				have[p.Reference] = true
				r.Performer = append(r.Performer, p)
			}
		}
		r.Component = append(r.Component, fhir.ObservationComponent{Code: o.Code, ValueQuantity: o.ValueQuantity,
			Interpretation: o.Interpretation, ReferenceRange: o.ReferenceRange})
	}
	c.add(idn, r)
	return idn.ref
}

// readingKey is what makes Observations one reading: the same status
// and time.
func readingKey(o *fhir.Observation) string {
	k := o.Status + "|" + o.EffectiveDateTime
	if p := o.EffectivePeriod; p != nil {
		k += "|period " + p.Start + "|" + p.End
	}
	return k
}

// countObsLooks, set by a test, is called for each Observation
// observationAt looks at, so a test can bound its work without timing it.
var countObsLooks func()

// observationAt returns the Observation this document's bundle holds
// under the reference ref, or nil. It looks in the index add keeps: a
// scan of the bundle's Observations for each lookup grew with the
// square of an organizer's members.
func (c *converter) observationAt(ref string) *fhir.Observation {
	if countObsLooks != nil {
		countObsLooks()
	}
	return c.observations["urn:uuid:"+refUUID(ref)]
}

// refUUID is the uuid a reference made by identityOf ends in, whichever
// way it refers (Observation/<uuid> or urn:uuid:<uuid>).
func refUUID(ref string) string { return ref[strings.LastIndexAny(ref, "/:")+1:] }

// membersSpan is the time of a vital signs organizer without its own:
// C-CDA on FHIR (CF-vitals) has "If organizer/effectiveTime is missing,
// use the earliest and latest observation/effectiveTime", a point when
// they are one.
func (c *converter) membersSpan(members []fhir.Reference) (string, *fhir.Period) {
	var first, last string
	var t0, t1 time.Time
	see := func(s string) {
		t, ok := fhirTime(s)
		if !ok {
			return
		}
		if first == "" || t.Before(t0) {
			first, t0 = s, t
		}
		if last == "" || t.After(t1) {
			last, t1 = s, t
		}
	}
	for _, m := range members {
		if o := c.observationAt(m.Reference); o != nil {
			see(o.EffectiveDateTime)
			if p := o.EffectivePeriod; p != nil {
				see(p.Start)
				see(p.End)
			}
		}
	}
	if first == last || !t0.Before(t1) {
		return first, nil
	}
	return "", &fhir.Period{Start: first, End: last}
}

// fhirTime reads a FHIR dateTime as ferry writes it (a date, or a time
// of day with its zone), a date at its start.
func fhirTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// organizerMembers converts the Observations among an organizer's
// components with the given category and returns references to them in
// document order, the members a vital-signs panel or DiagnosticReport
// points at. Any other statement is counted in Result.Skipped as
// skipAs + " " + its element name, or passed over if skipAs is "".
func (c *converter) organizerMembers(a *act, category, skipAs string) []fhir.Reference {
	var refs []fhir.Reference
	// A member without its own time is told apart from the same test in
	// another panel by the panel (see entryKey).
	within := "organizer " + entryWhat("", a)
	for i := range a.Component {
		if o := a.Component[i].Observation; o != nil {
			if ref := c.observation(o, category, within); ref != "" {
				refs = append(refs, fhir.Reference{Reference: ref})
			}
		} else if s, el := a.Component[i].statement(); s != nil && skipAs != "" {
			c.skip(skipAs + " " + el)
		}
	}
	return refs
}

// firstMemberTime returns the first component's time, for organizers
// without their own.
func (c *converter) firstMemberTime(a *act) string {
	for i := range a.Component {
		if s, _ := a.Component[i].statement(); s != nil {
			if pt, per := c.when(firstEffective(s.EffectiveTime)); pt != "" {
				return pt
			} else if per != nil && per.Start != "" {
				return per.Start
			}
		}
	}
	return ""
}

// resultOrganizer maps a Result Organizer to a DiagnosticReport with its
// result Observations.
func (c *converter) resultOrganizer(a *act) {
	results := c.organizerMembers(a, "laboratory", "result organizer component")
	idn, ids, fresh := c.claimEntry("DiagnosticReport", a, "")
	if !fresh {
		return
	}
	r := &fhir.DiagnosticReport{ResourceType: "DiagnosticReport", ID: idn.id, Identifier: ids, Subject: c.subject(), Result: results,
		Category: []fhir.CodeableConcept{*simpleConcept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")}}
	switch status(a) {
	case "active", "new":
		r.Status = "partial"
	case "held", "suspended":
		r.Status = "registered" // CF-ResultReportStatus
	case "aborted", "cancelled":
		r.Status = "cancelled"
	case "nullified":
		r.Status = "entered-in-error"
	default:
		r.Status = "final"
	}
	if cc := concept(a.Code); cc != nil {
		r.Code = *cc
	} else {
		r.Code = *simpleConcept("http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown", "Unknown")
	}
	r.EffectiveDateTime, r.EffectivePeriod = c.when(firstEffective(a.EffectiveTime))
	if r.EffectiveDateTime == "" && r.EffectivePeriod == nil {
		r.EffectiveDateTime = c.firstMemberTime(a)
	}
	have := refSet(r.Performer)
	for i := range a.Performer {
		if countRefChecks != nil {
			countRefChecks()
		}
		if ref := c.actor(a.Performer[i].AssignedEntity); ref != nil && !have[ref.Reference] {
			have[ref.Reference] = true
			r.Performer = append(r.Performer, *ref)
		}
	}
	if by, _ := c.authorRef(a.Author); by != nil && !have[by.Reference] {
		r.Performer = append(r.Performer, *by)
	}
	if c.curEncounter != "" {
		r.Encounter = &fhir.Reference{Reference: c.curEncounter}
	}
	// US Core us-core-8 and us-core-9: a released report says when it
	// was taken and issued; a Result Organizer never says the second.
	r.AbsentTimes()
	c.add(idn, r)
}

// birthSex records the Birth Sex Observation as the Patient's US Core
// birthsex extension (C-CDA on FHIR), not as an Observation.
func (c *converter) birthSex(o *act) {
	for _, v := range o.Value {
		switch strings.ToUpper(v.Code) {
		case "M", "F":
			c.patient.birthSex = strings.ToUpper(v.Code)
			return
		}
		if v.NullFlavor == "UNK" || v.NullFlavor == "ASKU" || v.Code == "UNK" {
			c.patient.birthSex = "UNK"
			return
		}
	}
}

// ---- Procedures (4.14 procedure, 4.13 observation, 4.12 act)

// procStatus maps statusCode to Procedure.status.
func procStatus(st string) string {
	switch st {
	case "completed":
		return "completed"
	case "active":
		return "in-progress"
	case "aborted":
		return "stopped"
	case "cancelled":
		return "not-done"
	case "new":
		return "preparation"
	case "held", "suspended":
		return "on-hold"
	case "nullified":
		return "entered-in-error"
	}
	return "unknown"
}

func (c *converter) procedure(a *act, el string) {
	if m := strings.ToUpper(a.MoodCode); m != "" && m != "EVN" {
		c.skip("planned " + el)
		return
	}
	idn, ids, fresh := c.claimEntry("Procedure", a, "")
	if !fresh {
		return
	}
	r := &fhir.Procedure{ResourceType: "Procedure", ID: idn.id, Identifier: ids, Status: procStatus(status(a)), Subject: c.subject()}
	if negated(a) {
		r.Status = "not-done"
	}
	r.Code = concept(a.Code)
	if r.Code == nil && el == "observation" {
		r.Code = firstValueConcept(a)
	}
	if r.Code == nil {
		// US Core Procedure.code is 1..1: a code the document gives
		// as a nullFlavor is unknown.
		u := fhir.UnknownConcept()
		r.Code = &u
	}
	pt, per := c.when(firstEffective(a.EffectiveTime))
	r.PerformedDateTime, r.PerformedPeriod = pt, per
	if pt == "" && per == nil && (r.Status == "completed" || r.Status == "in-progress") {
		// US Core's us-core-7: "Performed SHALL be present if the
		// status is 'completed' or 'in-progress'"; C-CDA's
		// effectiveTime is only a SHOULD.
		r.PerformedDateTimeElement = fhir.AbsentPrimitive("unknown")
	}
	r.BodySite = concepts(a.TargetSiteCode)
	for i := range a.Performer {
		ae := a.Performer[i].AssignedEntity
		if ref := c.actor(ae); ref != nil {
			pp := fhir.ProcedurePerformer{Actor: ref}
			if ae.AssignedPerson != nil {
				pp.OnBehalfOf = c.organization(ae.RepresentedOrganization)
			}
			r.Performer = append(r.Performer, pp)
		}
	}
	r.Recorder, _ = c.authorRef(a.Author)
	r.ReasonCode = indications(a)
	for _, p := range a.Participant {
		if p.TypeCode == "LOC" && p.ParticipantRole != nil && p.ParticipantRole.PlayingEntity != nil {
			for _, n := range p.ParticipantRole.PlayingEntity.Name {
				if s := clean(n.Text); s != "" {
					r.Location = &fhir.Reference{Display: s}
					break
				}
			}
		}
	}
	if c.curEncounter != "" {
		r.Encounter = &fhir.Reference{Reference: c.curEncounter}
	}
	r.Note = notes(a)
	c.add(idn, r)
	if el == "observation" && !negated(a) && concept(a.Code) != nil && c.hasObsValue(a) {
		// C-CDA on FHIR (CF-procedures): "Procedure cannot represent
		// the observation value, so ... Observation will always be
		// necessary", the Procedure "related by Observation.partOf".
		if ref := c.observation(a, "procedure", ""); ref != "" {
			if o := c.observationAt(ref); o != nil {
				o.PartOf = []fhir.Reference{*idn.reference()}
			}
		}
	}
}

// hasObsValue reports whether the first value of a gives an Observation
// value (a finding), not nothing or a nullFlavor.
func (c *converter) hasObsValue(a *act) bool {
	if len(a.Value) == 0 {
		return false
	}
	var o fhir.Observation
	c.setObsValue(&o, &a.Value[0])
	return o.DataAbsentReason == nil && !reflect.DeepEqual(o, fhir.Observation{})
}

// ---- Encounters (Encounter Activity 4.49)

func (c *converter) encounterActivity(a *act) {
	if m := strings.ToUpper(a.MoodCode); m != "" && m != "EVN" {
		c.skip("planned encounter")
		return
	}
	var idn identity
	r := &fhir.Encounter{ResourceType: "Encounter", Subject: c.subject()}
	header := c.headerEnc != nil && c.ofHeaderVisit(identifiers(a.ID))
	if header {
		// C-CDA on FHIR (CF-encounters): an Encounter Activity with the
		// encompassingEncounter's id is that encounter, "converted to a
		// single FHIR resource"; it fills in the header's.
		idn.ref = c.encounter
	} else {
		var ids []fhir.Identifier
		var fresh bool
		idn, ids, fresh = c.claimEntry("Encounter", a, "")
		if !fresh {
			return
		}
		r.ID, r.Identifier = idn.id, ids
	}
	r.Class = *encounterClass(a.Code)
	if a.Code != nil && a.Code.CodeSystem != "2.16.840.1.113883.5.4" {
		if t := concept(a.Code); t != nil {
			r.Type = []fhir.CodeableConcept{*t}
		}
	}
	if len(r.Type) == 0 {
		// US Core Encounter.type is 1..*: a code that is only the class
		// (ActCode AMB, IMP ...) or none says nothing of the visit's type,
		// and US Core's missing-data rule wants data-absent-reason
		// "unknown" rather than a guess.
		r.Type = []fhir.CodeableConcept{fhir.UnknownConcept()}
	}
	pt, per := c.when(firstEffective(a.EffectiveTime))
	if pt != "" {
		per = &fhir.Period{Start: pt}
	}
	r.Period = per
	switch status(a) {
	case "active":
		r.Status = "in-progress"
	case "cancelled", "aborted":
		r.Status = "cancelled"
	case "nullified":
		r.Status = "entered-in-error"
	case "completed":
		r.Status = "finished"
	default:
		r.Status = "unknown"
		if per != nil && (per.End != "" || pt != "") {
			r.Status = "finished"
		}
	}
	for i := range a.Performer {
		p := &a.Performer[i]
		if ref := c.practitioner(p.AssignedEntity); ref != nil {
			part := fhir.EncounterParticipant{Individual: ref}
			if p.TypeCode != "" {
				part.Type = []fhir.CodeableConcept{*simpleConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", p.TypeCode, "")}
			}
			r.Participant = append(r.Participant, part)
		}
	}
	for _, p := range a.Participant {
		if p.TypeCode == "LOC" && p.ParticipantRole != nil && p.ParticipantRole.PlayingEntity != nil {
			for _, n := range p.ParticipantRole.PlayingEntity.Name {
				if s := clean(n.Text); s != "" {
					r.Location = append(r.Location, fhir.EncounterLocation{Location: fhir.Reference{Display: s}})
					break
				}
			}
		}
	}
	r.ReasonCode = indications(a)
	if dd := concept(a.DischargeDispositionCode); dd != nil {
		// C-CDA on FHIR (CF-encounters): sdtc:dischargeDispositionCode
		// is .hospitalization.dischargeDisposition.
		r.Hospitalization = &fhir.EncounterHospitalization{DischargeDisposition: dd}
	}
	prev := c.curEncounter
	c.curEncounter = idn.ref
	related(a, func(i int, _ *relationship, x *act, el string) {
		if el != "act" || !(hasTemplate(x.TemplateID, tplEncounterDiagnosis) || hasTemplate(x.TemplateID, tplHospitalDischargeDx)) {
			return
		}
		c.push("entryRelationship[" + strconv.Itoa(i+1) + "]")
		related(x, func(j int, _ *relationship, o *act, el2 string) {
			if el2 == "observation" {
				c.push("entryRelationship[" + strconv.Itoa(j+1) + "]")
				ref := c.condition(o, x, "encounter-diagnosis")
				c.pop()
				r.Diagnosis = append(r.Diagnosis, fhir.EncounterDiagnosis{Condition: fhir.Reference{Reference: ref}})
			}
		})
		c.pop()
	})
	c.curEncounter = prev
	if header {
		if c.headerEncKeys == nil {
			c.headerEncKeys = &encounterKeys{}
		}
		mergeEncounter(c.headerEnc, r, c.headerEncKeys)
		if c.curLabels != nil {
			// What the entry's privacy annotations protect is in it now.
			l := fhir.NewLabels()
			l.Merge(c.resLabels[c.headerEnc], true)
			l.Merge(c.curLabels, true)
			if c.resLabels == nil {
				c.resLabels = map[any]*fhir.Labels{}
			}
			c.resLabels[c.headerEnc] = l
		}
		return
	}
	c.add(idn, r)
}

// countEncIDChecks, set by a test, is called for each identifier
// compared when telling an Encounter Activity of the header's visit, so
// a test can bound the work without timing it.
var countEncIDChecks func()

// ofHeaderVisit reports whether ids (an Encounter Activity's) share one
// with the encompassingEncounter's Encounter. Its identifiers are a set,
// made once: comparing each id with each of them, for every activity,
// grew with their product.
func (c *converter) ofHeaderVisit(ids []fhir.Identifier) bool {
	if c.headerEncIDs == nil {
		c.headerEncIDs = map[idKey]bool{}
		for _, x := range c.headerEnc.Identifier {
			if x.Value != "" {
				c.headerEncIDs[idKey{x.System, x.Value}] = true
			}
		}
	}
	for _, y := range ids {
		if countEncIDChecks != nil {
			countEncIDChecks()
		}
		if c.headerEncIDs[idKey{y.System, y.Value}] {
			return true
		}
	}
	return false
}

// encounterKeys are the participants and locations an Encounter has, as
// keys: an Encounter Activity of the visit may bring any number, and
// comparing each with all those the Encounter had grew with their square.
type encounterKeys struct {
	participants, locations map[string]bool
}

// countMergeChecks, set by a test, is called for each participant and
// location mergeEncounter checks, so a test can bound its work without
// timing it.
var countMergeChecks func()

// mergeEncounter fills in the encompassingEncounter's Encounter dst with
// what an Encounter Activity of the same visit says of it (src): its
// class, type, period and status where the header had none, and its
// participants, reasons, diagnoses, locations and discharge disposition.
// keys are dst's participants and locations, kept from one call to the
// next.
func mergeEncounter(dst, src *fhir.Encounter, keys *encounterKeys) {
	if dst.Class.Code == "UNK" && src.Class.Code != "UNK" {
		dst.Class = src.Class
	}
	if unknownType(dst.Type) && !unknownType(src.Type) {
		dst.Type = src.Type
	}
	if dst.Period == nil {
		dst.Period = src.Period
	}
	if dst.Status == "unknown" {
		dst.Status = src.Status
	}
	if keys.participants == nil {
		keys.participants, keys.locations = map[string]bool{}, map[string]bool{}
		for _, q := range dst.Participant {
			keys.participants[participantKey(q)] = true
		}
		for _, m := range dst.Location {
			keys.locations[m.Location.Display] = true
		}
	}
	for _, p := range src.Participant {
		if countMergeChecks != nil {
			countMergeChecks()
		}
		if k := participantKey(p); !keys.participants[k] {
			keys.participants[k] = true
			dst.Participant = append(dst.Participant, p)
		}
	}
	dst.ReasonCode = append(dst.ReasonCode, src.ReasonCode...)
	dst.Diagnosis = append(dst.Diagnosis, src.Diagnosis...)
	for _, l := range src.Location {
		if countMergeChecks != nil {
			countMergeChecks()
		}
		if !keys.locations[l.Location.Display] {
			keys.locations[l.Location.Display] = true
			dst.Location = append(dst.Location, l)
		}
	}
	if src.Hospitalization != nil && (dst.Hospitalization == nil || dst.Hospitalization.DischargeDisposition == nil) {
		dst.Hospitalization = src.Hospitalization
	}
}

// participantKey is p's whole value, equal for equal participants.
func participantKey(p fhir.EncounterParticipant) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// unknownType reports whether an Encounter's type is only the
// data-absent-reason "unknown" it gets without one.
func unknownType(t []fhir.CodeableConcept) bool {
	return len(t) == 1 && len(t[0].Coding) == 1 && t[0].Coding[0].System == fhir.DataAbsentReasonSystem
}

// hasCoding reports whether cc has the code code of system.
func hasCoding(cc *fhir.CodeableConcept, system, code string) bool {
	for _, x := range cc.Coding {
		if x.System == system && x.Code == code {
			return true
		}
	}
	return false
}
