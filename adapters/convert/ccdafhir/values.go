package ccdafhir

import (
	"encoding/json"
	"strings"

	"github.com/ferry-health/ferry/adapters/convert/internal/ucum"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// codeSystemNames rescues codes whose codeSystem OID is missing but whose
// codeSystemName is unambiguous (seen in older R1.1 exports).
var codeSystemNames = map[string]string{
	"loinc":     "2.16.840.1.113883.6.1",
	"snomed ct": "2.16.840.1.113883.6.96",
	"snomed-ct": "2.16.840.1.113883.6.96",
	"snomedct":  "2.16.840.1.113883.6.96",
	"rxnorm":    "2.16.840.1.113883.6.88",
	"cvx":       "2.16.840.1.113883.12.292",
	"icd-10-cm": "2.16.840.1.113883.6.90",
	"icd10cm":   "2.16.840.1.113883.6.90",
	"icd-9-cm":  "2.16.840.1.113883.6.103",
	"ndc":       "2.16.840.1.113883.6.69",
	"cpt-4":     "2.16.840.1.113883.6.12",
	"cpt":       "2.16.840.1.113883.6.12",
}

// dateTime converts an HL7 TS (YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]) to a
// FHIR dateTime, keeping its precision. FHIR needs a zone once a time is
// given: a TS with a time but no zone takes defZone ("+HHMM", "-HHMM" or
// "Z": the document's own zone, see docZone), and without one is cut to
// its date rather than inventing a zone. ok is false for values that are
// not a TS.
func dateTime(v, defZone string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false
	}
	// Split the zone.
	zone := ""
	if i := strings.IndexAny(v, "+-"); i > 0 {
		zone, v = v[i:], v[:i]
		for j := 1; j < len(zone); j++ {
			if zone[j] < '0' || zone[j] > '9' {
				// Not a zone: an ISO date ("2024-03-15") is no TS,
				// and must not be read as its year.
				return "", false
			}
		}
	} else if strings.HasSuffix(v, "Z") {
		zone, v = "Z", v[:len(v)-1]
	}
	if zone == "" {
		zone = defZone
	}
	frac := ""
	if i := strings.IndexByte(v, '.'); i >= 0 {
		frac, v = v[i:], v[:i]
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return "", false
		}
	}
	n := len(v)
	if n < 4 || n%2 != 0 || n > 14 || (frac != "" && n != 14) {
		return "", false
	}
	if !rangeOK(v) {
		return "", false
	}
	var b strings.Builder
	b.Grow(32)
	b.WriteString(v[:4])
	if n >= 6 {
		b.WriteString("-" + v[4:6])
	}
	if n >= 8 {
		b.WriteString("-" + v[6:8])
	}
	if n <= 8 {
		return b.String(), true
	}
	tz, ok := zoneOf(zone)
	if !ok {
		return b.String(), true
	}
	b.WriteString("T" + v[8:10])
	if n >= 12 {
		b.WriteString(":" + v[10:12])
	} else {
		b.WriteString(":00")
	}
	if n >= 14 {
		b.WriteString(":" + v[12:14])
	} else {
		b.WriteString(":00")
	}
	if len(frac) > 1 {
		b.WriteString(frac)
	}
	b.WriteString(tz)
	return b.String(), true
}

// rangeOK checks month, day, hour, minute and second ranges.
func rangeOK(v string) bool {
	two := func(i int) int { return int(v[i]-'0')*10 + int(v[i+1]-'0') }
	if v[:4] == "0000" {
		return false
	}
	if len(v) >= 6 && (two(4) < 1 || two(4) > 12) {
		return false
	}
	if len(v) >= 8 && (two(6) < 1 || two(6) > daysIn(two(4), int(two(0))*100+two(2))) {
		return false // FHIR: "Dates SHALL be valid dates"
	}
	if len(v) >= 10 && two(8) > 23 {
		return false
	}
	if len(v) >= 12 && two(10) > 59 {
		return false
	}
	if len(v) >= 14 && two(12) > 60 {
		return false
	}
	return true
}

// daysIn is the number of days of month (1-12) in year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// zoneOf turns +HHMM into +HH:MM; false for an offset FHIR's regex does
// not take (minutes past 59, or beyond ±14:00).
func zoneOf(z string) (string, bool) {
	if z == "Z" {
		return "Z", true
	}
	if len(z) != 5 || (z[0] != '+' && z[0] != '-') {
		return "", false
	}
	for i := 1; i < 5; i++ {
		if z[i] < '0' || z[i] > '9' {
			return "", false
		}
	}
	if hh, mm := int(z[1]-'0')*10+int(z[2]-'0'), int(z[3]-'0')*10+int(z[4]-'0'); mm > 59 || hh*60+mm > 14*60 {
		return "", false
	}
	if z[1:] == "0000" && z[0] == '-' {
		z = "+0000"
	}
	return z[:3] + ":" + z[3:], true
}

// docZone returns the zone of the document's effectiveTime ("-0500"),
// the zone its times without one are meant in, or "" when it has none
// (or one that is not +HHMM, -HHMM or Z).
func docZone(v string) string {
	v = strings.TrimSpace(v)
	zone := ""
	if i := strings.IndexAny(v, "+-"); i > 0 {
		zone = v[i:]
	} else if strings.HasSuffix(v, "Z") {
		zone = "Z"
	}
	if _, ok := zoneOf(zone); !ok {
		return ""
	}
	return zone
}

// date converts a TS to a FHIR date (birthDate), dropping any time.
func date(v string) string {
	s, ok := dateTime(v, "")
	if !ok {
		return ""
	}
	if len(s) > 10 {
		s = s[:10]
	}
	return s
}

// dateTime is dateTime in the document's zone.
func (c *converter) dateTime(v string) (string, bool) { return dateTime(v, c.zone) }

// instant converts a TS to a FHIR instant, which needs seconds and a zone;
// "" when the TS is not that precise.
func (c *converter) instant(v string) string {
	s, ok := c.dateTime(v)
	if !ok || len(s) < 20 {
		return ""
	}
	return s
}

// tsValue reads a ts pointer.
func (c *converter) tsValue(t *ts) string {
	if t == nil || t.NullFlavor != "" {
		return ""
	}
	s, _ := c.dateTime(t.Value)
	return s
}

// when splits an effectiveTime into a point or a period. A TS value
// wins; otherwise low/high make a period, and a lone center a point.
func (c *converter) when(e *ivlTS) (point string, period *fhir.Period) {
	if e == nil {
		return "", nil
	}
	if e.Value != "" {
		s, _ := c.dateTime(e.Value)
		return s, nil
	}
	lo, hi := c.tsValue(e.Low), c.tsValue(e.High)
	if lo != "" || hi != "" {
		if hi != "" && lo == "" {
			return "", &fhir.Period{End: hi}
		}
		if hi == "" {
			return "", &fhir.Period{Start: lo}
		}
		return "", &fhir.Period{Start: lo, End: hi}
	}
	if ct := c.tsValue(e.Center); ct != "" {
		return ct, nil
	}
	return "", nil
}

// effective is when for the validity periods of names and addresses,
// which the header's shared helpers build without a converter: HL7 gives
// them as dates, so they get no zone of the document's.
func effective(e *ivlTS) (point string, period *fhir.Period) {
	return (&converter{}).when(e)
}

// firstEffective returns the first effectiveTime that is an interval or a
// point (not a PIVL/EIVL frequency).
func firstEffective(es []ivlTS) *ivlTS {
	for i := range es {
		t := strings.ToUpper(bareType(es[i].XSIType))
		if t == "PIVL_TS" || t == "EIVL_TS" || es[i].Period != nil || es[i].Event != nil {
			continue
		}
		return &es[i]
	}
	return nil
}

// bareType strips a namespace prefix from an xsi:type value.
func bareType(t string) string {
	if i := strings.IndexByte(t, ':'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// decimal normalises an HL7 REAL/PQ value into a JSON/FHIR decimal
// (".5" → "0.5", "+3" → "3", "5." → "5"); ok is false if it is not a number.
func decimal(s string) (json.Number, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	s = strings.TrimSuffix(s, ".")
	if strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	if s == "" {
		return "", false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return "", false
		}
	}
	// Strip leading zeros JSON does not allow ("007" → "7", "00.5" → "0.5").
	for len(s) > 1 && s[0] == '0' && s[1] != '.' {
		s = s[1:]
	}
	if neg {
		s = "-" + s
	}
	return json.Number(s), true
}

// quantity maps a PQ to a Quantity; nil without a numeric value. CDA
// says PQ units are UCUM, but documents carry "mcg", "Puffs" or
// "10+3/ul": only a unit that is UCUM gets the UCUM system and code,
// any other stays as text (qty-3 allows a unit alone), since the
// exchange rejects an invalid UCUM code.
func quantity(value, unit string) *fhir.Quantity {
	n, ok := decimal(value)
	if !ok {
		return nil
	}
	q := &fhir.Quantity{Value: n}
	unit = token(unit)
	if unit != "" {
		q.Unit = unit
		if ucum.Valid(unit) {
			q.System, q.Code = sysUCUM, unit
		}
	}
	return q
}

// pqQuantity maps a *pq.
func pqQuantity(p *pq) *fhir.Quantity {
	if p == nil || p.NullFlavor != "" {
		return nil
	}
	return quantity(p.Value, p.Unit)
}

// boolAttr reads an HL7 BL attribute.
func boolAttr(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
