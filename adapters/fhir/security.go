package fhir

import (
	"slices"
	"strings"
)

// Security labels (STANDARDS.md §7, the DS4P IG 1.0.0). Every converter
// reads labels from its own source format (HL7 v2 MSH-8/26/27 and ORC-28,
// C-CDA confidentialityCode and DS4P privacy annotations, XDS
// confidentialityCode, a CSV column) and writes them here, so that the
// rules are the same whatever the source:
//
//   - exactly one v3-Confidentiality code per label set, the highest met;
//   - sensitivity (SUD, HIV ...) and policy (42CFRPart2) codes are kept
//     and go into the high-water mark of the Bundle and of a
//     DocumentReference;
//   - handling codes (refrain and obligation policies, NODSCLCD, MASK,
//     ENCRYPT, and purposes of use) stay on the resources they govern and
//     never go into a high-water mark, since they would themselves reveal
//     something about what is withheld;
//   - a label set without a confidentiality code but with other codes
//     implies R: such content is restricted by law or by its sender, and
//     guessing lower would be a downgrade. No labels at all stay no labels:
//     absence is not "N".

// Code systems of security labels.
const (
	SystemConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	SystemActCode         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	// SystemActReason holds the purposes of use (TREAT, HPAYMT ...).
	SystemActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	// SystemObservationValue is where DS4P for CDA R1 put every security
	// observation value (OID 2.16.840.1.113883.5.1063).
	SystemObservationValue = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
)

// IsConfidentialitySystem reports whether system names v3-Confidentiality:
// its FHIR R4 URI, or one of the names it had before, which exports,
// XDM packages and older FHIR servers still write: FHIR STU3's
// http://hl7.org/fhir/v3/Confidentiality and the code system's OID
// (2.16.840.1.113883.5.25) as a URI. A code under either is that code.
func IsConfidentialitySystem(system string) bool {
	switch system {
	case SystemConfidentiality, "http://hl7.org/fhir/v3/Confidentiality", "urn:oid:2.16.840.1.113883.5.25":
		return true
	}
	return false
}

// LabelKind says what a security label is, which decides where it may go.
type LabelKind int

// Label kinds.
const (
	// LabelSensitivity is a v3-ActCode information sensitivity (SUD, HIV).
	LabelSensitivity LabelKind = iota + 1
	// LabelPolicy is a privacy law or policy (42CFRPart2).
	LabelPolicy
	// LabelHandling is a refrain or obligation policy or a purpose of use:
	// how to handle the data, kept out of every high-water mark.
	LabelHandling
	// LabelOther is a code ferry does not know (a sender's own): kept, and
	// counted in the high-water mark.
	LabelOther
)

// confOrder ranks the v3-Confidentiality codes.
var confOrder = [...]string{"U", "L", "M", "N", "R", "V"}

var confDisplay = map[string]string{"U": "unrestricted", "L": "low", "M": "moderate", "N": "normal",
	"R": "restricted", "V": "very restricted"}

// ConfidentialityRank is the rank of a v3-Confidentiality code (U 0 ... V
// 5), or -1 when code is none (case matters: "r" is not R).
func ConfidentialityRank(code string) int {
	for i, c := range confOrder {
		if c == code {
			return i
		}
	}
	return -1
}

// RankRestricted is the rank of R.
const RankRestricted = 4

// ConfidentialityCoding is the v3-Confidentiality coding of rank r.
func ConfidentialityCoding(r int) Coding {
	code := confOrder[r]
	return Coding{System: SystemConfidentiality, Code: code, Display: confDisplay[code]}
}

// securityCodes lists the v3-ActCode security codes ferry knows, by kind.
var securityCodes = map[string]LabelKind{
	// sensitivity (ActInformationSensitivityPolicy)
	"ETH": LabelSensitivity, "SUD": LabelSensitivity, "ETHUD": LabelSensitivity, "OPIOIDUD": LabelSensitivity,
	"COCAINEUD": LabelSensitivity, "PSY": LabelSensitivity, "PSYTHPN": LabelSensitivity, "MH": LabelSensitivity,
	"BH": LabelSensitivity, "HIV": LabelSensitivity, "STD": LabelSensitivity, "SDV": LabelSensitivity,
	"SEX": LabelSensitivity, "SICKLE": LabelSensitivity, "TBOO": LabelSensitivity, "CEL": LabelSensitivity,
	"EMP": LabelSensitivity,
	// privacy law / policy
	"42CFRPart2": LabelPolicy,
	// refrain policy
	"NOAUTH": LabelHandling, "NOCOLLECT": LabelHandling, "NODSCLCD": LabelHandling, "NODSCLCDS": LabelHandling,
	"NOINTEGRATE": LabelHandling, "NOLIST": LabelHandling, "NOMOU": LabelHandling, "NOORGPOL": LabelHandling,
	"NOPAT": LabelHandling, "NOPERSISTP": LabelHandling, "NORDSCLCD": LabelHandling, "NORDSCLCDS": LabelHandling,
	"NORDSCLW": LabelHandling, "NORELINK": LabelHandling, "NOREUSE": LabelHandling, "NOVIP": LabelHandling,
	"ORCON": LabelHandling,
	// obligation policy
	"ANONY": LabelHandling, "AOD": LabelHandling, "AUDIT": LabelHandling, "AUDTR": LabelHandling,
	"CPLYCC": LabelHandling, "CPLYCD": LabelHandling, "CPLYJPP": LabelHandling, "CPLYOPP": LabelHandling,
	"CPLYOSP": LabelHandling, "CPLYPOL": LabelHandling, "DEID": LabelHandling, "DELAU": LabelHandling,
	"ENCRYPT": LabelHandling, "ENCRYPTR": LabelHandling, "ENCRYPTT": LabelHandling, "ENCRYPTU": LabelHandling,
	"HUAPRV": LabelHandling, "MASK": LabelHandling, "MINEC": LabelHandling, "PRIVMARK": LabelHandling,
	"PSEUD": LabelHandling, "REDACT": LabelHandling,
}

// SecurityCodeKind is the kind of a v3-ActCode security code ferry knows.
func SecurityCodeKind(code string) (LabelKind, bool) {
	k, ok := securityCodes[code]
	return k, ok
}

// securityFold maps each known v3-ActCode security code in lower case to
// the code as v3-ActCode writes it.
var securityFold = func() map[string]string {
	m := make(map[string]string, len(securityCodes))
	for c := range securityCodes {
		m[strings.ToLower(c)] = c
	}
	return m
}()

// SecurityCode is a v3-ActCode security code ferry knows given in any
// case ("42CFRPART2", "hiv"), as v3-ActCode writes it (42CFRPart2, HIV),
// and its kind. v3 codes are case-sensitive: a label written in the
// case it came in is no code an exchange or exchange.hold knows.
func SecurityCode(code string) (string, LabelKind, bool) {
	c, ok := securityFold[strings.ToLower(code)]
	if !ok {
		return "", 0, false
	}
	return c, securityCodes[c], true
}

// KnownSecurityCode reports whether code is a v3-Confidentiality code or a
// v3-ActCode sensitivity, policy, refrain or obligation code ferry knows.
func KnownSecurityCode(code string) bool {
	_, ok := securityCodes[code]
	return ok || ConfidentialityRank(code) >= 0
}

// DescribesData reports whether code says what data is, as a label of a
// whole message, document, file or fax line may: a v3-Confidentiality
// code, or a v3-ActCode sensitivity or policy code. Refrain and obligation
// codes say how to handle data instead; exchange.hold and the labels of a
// configured source take none of them.
func DescribesData(code string) bool {
	if ConfidentialityRank(code) >= 0 {
		return true
	}
	k, ok := securityCodes[code]
	return ok && (k == LabelSensitivity || k == LabelPolicy)
}

// handlingSystems are code systems whose every code says how to handle
// data rather than what it is.
var handlingSystems = map[string]bool{
	SystemActReason: true,
	"http://terminology.hl7.org/CodeSystem/v3-ObligationPolicy": true,
	"http://terminology.hl7.org/CodeSystem/v3-RefrainPolicy":    true,
}

// CodingKind classifies a label already written as a Coding: 0 for a
// v3-Confidentiality code (ConfidentialityOf), else its kind. A known ActCode security code
// counts by its code whatever system it came with (senders put them under
// v3-ObservationValue or with no system at all), and in any case
// (SecurityCode): "42CFRPART2" is still a Part 2 record, "mask" still a
// handling code kept out of a high-water mark.
func CodingKind(c Coding) LabelKind {
	if ConfidentialityOf(c) >= 0 {
		return 0
	}
	if handlingSystems[c.System] {
		return LabelHandling
	}
	if _, k, ok := SecurityCode(c.Code); ok {
		return k
	}
	return LabelOther
}

// Labels is a set of security labels that applies to one scope: a
// message, a document, an entry, a visit.
type Labels struct {
	conf  int // rank, -1 when no confidentiality code was given
	codes []Coding
	kinds []LabelKind
}

// NewLabels is an empty label set.
func NewLabels() *Labels { return &Labels{conf: -1} }

// Empty reports whether l holds no label (a nil set is empty).
func (l *Labels) Empty() bool { return l == nil || (l.conf < 0 && len(l.codes) == 0) }

// Conf is the confidentiality rank given, -1 when none was.
func (l *Labels) Conf() int {
	if l == nil {
		return -1
	}
	return l.conf
}

// Raise raises the confidentiality to rank (never lowers it).
func (l *Labels) Raise(rank int) {
	if rank > l.conf {
		l.conf = rank
	}
}

// Add adds one coded label of kind k, once.
func (l *Labels) Add(c Coding, k LabelKind) {
	for _, o := range l.codes {
		if o.System == c.System && o.Code == c.Code {
			return
		}
	}
	l.codes = append(l.codes, c)
	l.kinds = append(l.kinds, k)
}

// AddCoding adds a label already written as a Coding, classified by
// CodingKind: a confidentiality code raises the set.
func (l *Labels) AddCoding(c Coding) {
	if k := CodingKind(c); k == 0 {
		l.Raise(ConfidentialityOf(c))
	} else {
		l.Add(c, k)
	}
}

// AddText adds one code given without a usable code system: a v3
// confidentiality code (any case), a known ActCode (any case), else a
// sender-specific value kept under system with its display.
func (l *Labels) AddText(code, display, system string) {
	code = strings.TrimSpace(code)
	if code == "" {
		return
	}
	if r := ConfidentialityRank(strings.ToUpper(code)); r >= 0 {
		l.Raise(r)
		return
	}
	if c, k, ok := SecurityCode(code); ok {
		l.Add(Coding{System: SystemActCode, Code: c}, k)
		return
	}
	l.Add(Coding{System: system, Code: code, Display: display}, LabelOther)
}

// Merge adds o's labels to l; handling codes only when withHandling.
func (l *Labels) Merge(o *Labels, withHandling bool) {
	if o == nil {
		return
	}
	l.Raise(o.conf)
	for i, c := range o.codes {
		if o.kinds[i] == LabelHandling && !withHandling {
			continue
		}
		l.Add(c, o.kinds[i])
	}
}

// HighWaterMark is a copy of l without its handling codes: what a Bundle
// or a DocumentReference.securityLabel may carry.
func (l *Labels) HighWaterMark() *Labels {
	h := NewLabels()
	h.Merge(l, false)
	return h
}

// Coding renders the set as meta.security: one confidentiality code first
// (R when only other codes were given), then the other codes in the order
// they were met. An empty set renders as nil.
func (l *Labels) Coding() []Coding {
	if l.Empty() {
		return nil
	}
	rank := l.conf
	if rank < 0 {
		rank = RankRestricted
	}
	out := make([]Coding, 0, 1+len(l.codes))
	out = append(out, ConfidentialityCoding(rank))
	return append(out, l.codes...)
}

// HighWaterMark is the high-water mark of labels already written as
// Codings: the highest confidentiality code, placed where the first one
// stood, and every other label but the handling codes. Without a
// confidentiality code, a sensitivity or policy code (HIV, 42CFRPart2)
// implies R, placed first, as in Labels: DS4P gives the mark exactly one
// confidentiality code, and guessing lower would be a downgrade. Handling
// codes and a sender's own codes alone add none.
//
// The confidentiality code is written as v3-Confidentiality's R4 code
// whatever name or case it came under (ConfidentialityOf): an exchange
// reads the mark's one code under that system, in upper case, and would
// find none in "r" or under FHIR STU3's URI. A known sensitivity or
// policy code of v3-ActCode given in another case ("42CFRPART2") is
// written as v3-ActCode writes it (42CFRPart2), as Labels.AddText writes
// it: v3 codes are case-sensitive, and an exchange's DS4P rules know no
// other; under another system a code is left as its sender wrote it.
func HighWaterMark(labels []Coding) []Coding {
	hwm := collapse(labels, false)
	conf, implied, cloned := false, false, false
	for i, c := range hwm {
		w := c
		switch CodingKind(c) {
		case 0:
			conf = true
			if r := ConfidentialityOf(c); c.System != SystemConfidentiality || c.Code != confOrder[r] {
				w = ConfidentialityCoding(r)
			}
		case LabelSensitivity, LabelPolicy:
			implied = true
			if c.System == SystemActCode {
				w.Code, _, _ = SecurityCode(c.Code)
			}
		}
		if w != c {
			if !cloned {
				hwm = slices.Clone(hwm) // collapse may return labels itself
				cloned = true
			}
			hwm[i] = w
		}
	}
	if conf || !implied {
		return hwm
	}
	return append([]Coding{ConfidentialityCoding(RankRestricted)}, hwm...)
}

// OneConfidentiality keeps, of the v3-Confidentiality codes among labels,
// only the most restrictive (DS4P: exactly one), where the first of them
// stood; every other label stays as it is, handling codes too: the labels
// of a resource rather than of a Bundle. It returns labels itself when
// they hold fewer than two confidentiality codes.
func OneConfidentiality(labels []Coding) []Coding { return collapse(labels, true) }

// ConfidentialityOf is the rank of c when it is a v3-Confidentiality
// code, written in any case and under any of the system's names
// (IsConfidentialitySystem); -1 for any other label.
func ConfidentialityOf(c Coding) int {
	if !IsConfidentialitySystem(c.System) {
		return -1
	}
	return ConfidentialityRank(strings.ToUpper(c.Code))
}

func collapse(labels []Coding, keepHandling bool) []Coding {
	best, bestRank, n, handling := -1, -1, 0, false
	for i, c := range labels {
		if r := ConfidentialityOf(c); r >= 0 {
			n++
			if r > bestRank {
				best, bestRank = i, r
			}
		} else if CodingKind(c) == LabelHandling {
			handling = true
		}
	}
	if n < 2 && (keepHandling || !handling) {
		return labels
	}
	out := make([]Coding, 0, len(labels))
	placed := false
	for _, c := range labels {
		switch {
		case ConfidentialityOf(c) >= 0:
			if !placed {
				out = append(out, labels[best])
				placed = true
			}
		case !keepHandling && CodingKind(c) == LabelHandling:
		default:
			out = append(out, c)
		}
	}
	return out
}
