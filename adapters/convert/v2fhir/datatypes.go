package v2fhir

import (
	"crypto/sha1"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/internal/npi"
	"github.com/ferry-health/ferry/adapters/convert/internal/wallclock"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// namespace is ferry's UUIDv5 namespace for resource ids.
var namespace = [16]byte{0x6b, 0x1e, 0x3f, 0x52, 0x0c, 0x4d, 0x5a, 0x8e, 0x9f, 0x21, 0x7a, 0x44, 0x13, 0xd0, 0xe5, 0x66}

// urnLen is the length of "urn:uuid:" and a UUID.
const urnLen = len("urn:uuid:") + 36

// uuid5URN writes into urn "urn:uuid:" and the RFC 9562 version 5 (SHA-1,
// name-based) UUID of "resourceType|system|value" in ferry's namespace.
// It fills a caller's array rather than returning a string so that put
// can look the id up among the entries and then keep it in the one string
// it allocates per resource. (Hashing the namespace once and cloning the
// state would save nothing: the 16 namespace bytes do not fill a SHA-1
// block.)
func uuid5URN(urn *[urnLen]byte, resourceType, system, value string) {
	var stack [256]byte
	name := append(stack[:0], namespace[:]...)
	name = append(name, resourceType...)
	name = append(name, '|')
	name = append(name, system...)
	name = append(name, '|')
	name = append(name, value...)
	sum := sha1.Sum(name)
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	copy(urn[:], "urn:uuid:")
	j := 9
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			urn[j] = '-'
			j++
		}
		urn[j], urn[j+1] = hexd[b[i]>>4], hexd[b[i]&15]
		j += 2
	}
}

const (
	v2Table = "http://terminology.hl7.org/CodeSystem/v2-"
	sysSSN  = "http://hl7.org/fhir/sid/us-ssn"
	sysNPI  = "http://hl7.org/fhir/sid/us-npi"
)

// codeSystems maps v2 coding system names (table 0396) to FHIR URIs.
var codeSystems = map[string]string{
	"LN":      "http://loinc.org",
	"LOINC":   "http://loinc.org",
	"SCT":     "http://snomed.info/sct",
	"SNM":     "http://snomed.info/sct",
	"SNM3":    "http://snomed.info/sct",
	"SCT2":    "http://snomed.info/sct",
	"SNOMED":  "http://snomed.info/sct",
	"I10":     "http://hl7.org/fhir/sid/icd-10-cm",
	"I10C":    "http://hl7.org/fhir/sid/icd-10-cm",
	"ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
	"I10P":    "http://www.cms.gov/Medicare/Coding/ICD10",
	"I9":      "http://hl7.org/fhir/sid/icd-9-cm",
	"I9C":     "http://hl7.org/fhir/sid/icd-9-cm",
	"UCUM":    "http://unitsofmeasure.org",
	"CVX":     "http://hl7.org/fhir/sid/cvx",
	"MVX":     "http://hl7.org/fhir/sid/mvx", // THO CodeSystem MVX's url
	// Tables 0292 (CVX) and 0227 (MVX) are external: THO has no v2-0292
	// or v2-0227 CodeSystem, its ValueSets of those names include all of
	// CVX and MVX, so a sender naming the table means CVX or MVX.
	"HL70292": "http://hl7.org/fhir/sid/cvx",
	"HL70227": "http://hl7.org/fhir/sid/mvx",
	"RXNORM":  "http://www.nlm.nih.gov/research/umls/rxnorm",
	"RXN":     "http://www.nlm.nih.gov/research/umls/rxnorm",
	"NDC":     "http://hl7.org/fhir/sid/ndc",
	"CPT":     "http://www.ama-assn.org/go/cpt",
	"C4":      "http://www.ama-assn.org/go/cpt",
	"C5":      "http://www.ama-assn.org/go/cpt",
	"HCPCS":   "urn:oid:2.16.840.1.113883.6.285",
	"CDCREC":  "urn:oid:2.16.840.1.113883.6.238",
	"NUCC":    "http://nucc.org/provider-taxonomy",
	"ISO639":  "urn:ietf:bcp:47",
	"NCIT":    "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", // NCI Thesaurus (THO)
	"NDFRT":   "http://hl7.org/fhir/ndfrt",
	"HL7":     "",
}

// codeSystem maps a CWE.3 name to a URI. HL7nnnn becomes the THO v2 table
// system. Unknown local systems are kept under ferry's base so their codes
// are not mistaken for another system's.
func (x *conv) codeSystem(name string) string {
	if name == "" {
		return ""
	}
	u := strings.ToUpper(name)
	if s, ok := codeSystems[u]; ok {
		return s
	}
	if strings.HasPrefix(u, "HL7") {
		n := strings.TrimPrefix(strings.TrimPrefix(u, "HL7"), "-")
		if len(n) == 4 && allDigits(n) {
			return v2Table + n
		}
	}
	if strings.HasPrefix(u, "URN:") || strings.HasPrefix(u, "HTTP") {
		return name
	}
	if looksLikeOID(name) {
		return "urn:oid:" + name
	}
	return x.system("codesystem:" + sanitise(name))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func looksLikeOID(s string) bool {
	if len(s) < 3 || !strings.Contains(s, ".") {
		return false
	}
	for _, p := range strings.Split(s, ".") {
		if !allDigits(p) {
			return false
		}
	}
	return true
}

// cwe converts a CWE/CE/CNE (one repetition) to a CodeableConcept: the
// primary coding (.1-.3), the alternate (.4-.6) and original text (.9).
// defaultSystem applies when .3 is empty (for fields bound to a v2 table).
func (x *conv) cwe(v hl7v2.Value, defaultSystem string) *fhir.CodeableConcept {
	if v.Empty() || v.IsNull() {
		return nil
	}
	var t [9]string // CWE.1 ... CWE.9, read in one pass
	v.Texts(t[:])
	if t[0] == "" && t[3] == "" && t[8] == "" && t[1] == "" && t[4] == "" {
		return nil // nothing to write: no codes and no text
	}
	// The concept and its first coding share a slot of the conv's slab.
	box := x.slabs.concepts.next()
	cc := &box.cc
	if code := t[0]; code != "" {
		sys := x.codeSystem(t[2])
		if t[2] == "" {
			sys = defaultSystem
		}
		box.one[0] = fhir.Coding{System: sys, Code: code, Display: t[1], Version: t[6]}
		cc.Coding = box.one[:1:1]
	}
	if code := t[3]; code != "" {
		cc.Coding = append(cc.Coding, fhir.Coding{System: x.codeSystem(t[5]), Code: code, Display: t[4], Version: t[7]})
	}
	cc.Text = t[8]
	if cc.Text == "" && t[0] == "" {
		cc.Text = orStr(t[1], t[4])
	}
	return cc
}

// identifierTypes holds shared, read-only Identifier.type values for the
// common v2-0203 codes, so identifiers do not each allocate one.
var identifierTypes = func() map[string]*fhir.CodeableConcept {
	m := map[string]*fhir.CodeableConcept{}
	for _, c := range []string{"MR", "PI", "PLAC", "FILL", "VN", "PGN", "NPI", "SS", "AN", "PN", "DL", "PPN", "BR", "PRN", "EI", "PT", "MC", "MA", "SB", "AM", "ANC", "BA", "XX"} {
		m[c] = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: v2Table + "0203", Code: c}}}
	}
	return m
}()

// identifierType is the Identifier.type for a v2-0203 code; callers must
// not modify it.
func identifierType(code string) *fhir.CodeableConcept {
	if cc := identifierTypes[code]; cc != nil {
		return cc
	}
	return &fhir.CodeableConcept{Coding: []fhir.Coding{{System: v2Table + "0203", Code: code}}}
}

// tableCC is a CodeableConcept for a field bound to v2 table n.
func (x *conv) tableCC(v hl7v2.Value, table string) *fhir.CodeableConcept {
	if v.Empty() || v.IsNull() {
		return nil // as cwe would, without building the system first
	}
	sys, ok := tableSystems[table]
	if !ok {
		sys = v2Table + table
	}
	return x.cwe(v, sys)
}

// tableSystems are the THO systems of the tables converters pass to
// tableCC, built once (read-only) instead of per field.
var tableSystems = func() map[string]string {
	m := map[string]string{}
	for _, t := range []string{"0007", "0023", "0052", "0063", "0069", "0092", "0099", "0112", "0131", "0163", "0276", "0335", "0487", "0488", "0493"} {
		m[t] = v2Table + t
	}
	return m
}()

// hdUniversal renders an HD's universal id (.2 by type .3) as a URI, or "".
func hdUniversal(hd hl7v2.Value) string {
	var t [3]string
	hd.Texts(t[:])
	id, typ := t[1], strings.ToUpper(t[2])
	if id == "" {
		return ""
	}
	switch typ {
	case "ISO":
		return "urn:oid:" + id
	case "UUID", "GUID":
		return "urn:uuid:" + strings.ToLower(id)
	case "URI", "URL":
		return id
	}
	if typ == "" && looksLikeOID(id) {
		return "urn:oid:" + id
	}
	return ""
}

// wellKnownOIDs are assigning authorities whose OID the FHIR identifier
// registry lists under a URI of its own: the URI, not urn:oid:, is what
// receivers search by. An SSN's system also keeps it out of
// Patient.identifier (US Core), as CX.5 SS does.
var wellKnownOIDs = map[string]string{
	"2.16.840.1.113883.4.6": sysNPI, // CMS National Provider Identifier
	"2.16.840.1.113883.4.1": sysSSN, // SSA Social Security Number
}

// wellKnownAuthorities are the same authorities by the names senders put
// in CX.4.1 / XCN.9.1 without an OID. A site that means something else by
// them maps the name in identifiers.systems, which wins.
var wellKnownAuthorities = map[string]string{
	"NPI":   sysNPI,
	"SSA":   sysSSN,
	"USSSA": sysSSN,
}

// authoritySystem resolves an assigning authority (HD, read from a
// component's subcomponents) to an identifier system. The second result is
// false when ferry had to mint a system. A named authority (CX.4.1) is the
// identifier's namespace whoever sends it within the site, so its minted
// system is <Base>:id:<authority>, not scoped by MSH-4: the clinic's ADT
// feed and its lab's ORU feed (another sending facility) then land on one
// Patient. Base is what keeps sites apart (Converter.Base). A universal
// id that is no OID, UUID or URI, given without a namespace id, names
// the authority as CX.4.1 would. Only identifiers without any authority
// are scoped by the sending facility.
// Sites whose senders reuse an authority name for different namespaces
// map them in identifiers.systems.
func (x *conv) authoritySystem(ns, universal, typ string) (string, bool) {
	universal, typ = authorityURN(universal, typ)
	if s := wellKnownOIDs[universal]; s != "" {
		return s, true
	}
	if universal != "" {
		switch strings.ToUpper(typ) {
		case "ISO":
			return "urn:oid:" + universal, true
		case "UUID", "GUID":
			return "urn:uuid:" + strings.ToLower(universal), true
		case "URI", "URL":
			return universal, true
		}
	}
	if s := fhir.MappedSystem(x.c.Systems, ns); s != "" {
		return s, true
	}
	if s := fhir.MappedSystem(x.c.Systems, universal); s != "" {
		return s, true
	}
	if universal != "" && looksLikeOID(universal) {
		return "urn:oid:" + universal, true
	}
	if s := wellKnownAuthorities[strings.ToUpper(ns)]; s != "" && universal == "" {
		return s, true
	}
	if ns == "" {
		if universal == "" {
			return x.system("id"), false
		}
		// Named by its universal id alone, of a type that is no OID,
		// UUID or URI (HL7's "^falcon.iupui.edu^DNS", a local L, M or
		// N): that id is the authority's name, as a namespace id is.
		ns = universal
	}
	base := x.base()
	return urns.get(urnAuthority, func() string { return base + ":id:" + sanitise(ns) }, base, ns), false
}

// authorityURN reads an HD universal id (HD.2) a sender wrote as a URN,
// "urn:oid:<OID>" or "urn:uuid:<UUID>" in any case and whatever HD.3
// says, as the OID (type ISO) or UUID it names. HD.2 of type ISO is the
// bare OID, and the feed, C-CDA root or XDM patientId that writes the
// same authority so must key its patients by the same system
// ("urn:oid:<OID>", in lower case as the FHIR identifier registry writes
// it), not by "urn:oid:urn:oid:...", "URN:OID:..." or a minted one.
func authorityURN(universal, typ string) (string, string) {
	switch {
	case len(universal) > len("urn:oid:") && strings.EqualFold(universal[:len("urn:oid:")], "urn:oid:") && looksLikeOID(universal[len("urn:oid:"):]):
		return universal[len("urn:oid:"):], "ISO"
	case len(universal) > len("urn:uuid:") && strings.EqualFold(universal[:len("urn:uuid:")], "urn:uuid:"):
		return universal[len("urn:uuid:"):], "UUID"
	}
	return universal, typ
}

// cx converts one CX repetition to an Identifier (nil when CX.1 is empty).
func (x *conv) cx(v hl7v2.Value) *fhir.Identifier {
	return x.slabs.identifiers.box(x.cxValue(v))
}

// cxValue is cx for a caller that copies the Identifier into a list of
// its own (a resource's identifiers): it needs no slab slot.
func (x *conv) cxValue(v hl7v2.Value) (fhir.Identifier, bool) {
	var t [8]string // CX.1 ... CX.8, read in one pass
	v.Texts(t[:])
	val := t[0]
	if val == "" {
		return fhir.Identifier{}, false
	}
	aa := v.Comp(4)
	ns, universal := aa.Sub(1).Trimmed(), aa.Sub(2).Trimmed()
	sys, known := x.authoritySystem(ns, universal, aa.Sub(3).Trimmed())
	if ns == "" {
		ns = universal // an authority named by its universal id alone
	}
	id := fhir.Identifier{Value: val, System: sys}
	if t := t[4]; t != "" {
		// Table 0203's codes are upper case; a sender's "ss" or "mr" means
		// them all the same (an SSN must be kept out of
		// Patient.identifier, a medical record number is the key).
		t = strings.ToUpper(t)
		id.Type = identifierType(t)
		switch t {
		case "SS":
			id.System = sysSSN
		case "NPI":
			id.System = sysNPI
		case "DL":
			id.System, known = licenseSystem(ns, id.System, known)
		}
	}
	if ns == "" && id.System != sysSSN && ssaFacility(v.Comp(6)) {
		// No assigning authority, but assigned at the Social Security
		// Administration (CX.6, assigning facility): an SSN all the same.
		id.System = sysSSN
	}
	if !known && ns != "" {
		id.Assigner = x.slabs.references.next()
		id.Assigner.Display = ns
	}
	start, _ := x.date(t[6])
	end, _ := x.date(t[7])
	if endsBefore(start, end) {
		end = "" // per-1: an expiration before the effective date says nothing sure
	}
	if start != "" || end != "" {
		id.Period = &fhir.Period{Start: start, End: end}
	}
	return id, true
}

// dlOIDRoot is HL7's root of US driver's license numbers: a state's
// are under it by the state's FIPS code (THO NamingSystem FloridaDLN:
// urn:oid:2.16.840.1.113883.4.3.12).
const dlOIDRoot = "urn:oid:2.16.840.1.113883.4.3."

// licenseSystem is the system of a driver's license issued by state (a
// DL's CX.4 namespace, DLN.2), given sys, the one authoritySystem
// resolved for it (known: not minted): a US state's HL7 system in place
// of a minted one.
func licenseSystem(state, sys string, known bool) (string, bool) {
	if fips := stateFIPS[strings.ToUpper(state)]; !known && fips != "" {
		return dlOIDRoot + fips, true
	}
	return sys, known
}

// stateFIPS are the FIPS codes (as OID arcs) of the US states, DC and
// territories by their postal abbreviations, which a driver's license
// (CX.5 DL) names its issuing state by in CX.4.
var stateFIPS = map[string]string{
	"AL": "1", "AK": "2", "AZ": "4", "AR": "5", "CA": "6", "CO": "8", "CT": "9", "DE": "10",
	"DC": "11", "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17", "IN": "18", "IA": "19",
	"KS": "20", "KY": "21", "LA": "22", "ME": "23", "MD": "24", "MA": "25", "MI": "26", "MN": "27",
	"MS": "28", "MO": "29", "MT": "30", "NE": "31", "NV": "32", "NH": "33", "NJ": "34", "NM": "35",
	"NY": "36", "NC": "37", "ND": "38", "OH": "39", "OK": "40", "OR": "41", "PA": "42", "RI": "44",
	"SC": "45", "SD": "46", "TN": "47", "TX": "48", "UT": "49", "VT": "50", "VA": "51", "WA": "53",
	"WV": "54", "WI": "55", "WY": "56", "AS": "60", "GU": "66", "MP": "69", "PR": "72", "VI": "78",
}

// ssaFacility reports whether an HD names the Social Security
// Administration, by the names and OID wellKnownOIDs and
// wellKnownAuthorities know it by.
func ssaFacility(hd hl7v2.Value) bool {
	if hd.Empty() {
		return false
	}
	universal, _ := authorityURN(hd.Sub(2).Trimmed(), "")
	return wellKnownOIDs[universal] == sysSSN || wellKnownAuthorities[strings.ToUpper(hd.Sub(1).Trimmed())] == sysSSN
}

// ei converts an entity identifier (EI) to an Identifier of the given type
// code (v2-0203: PLAC, FILL...), minting a system from kind when the EI names
// no authority.
func (x *conv) ei(v hl7v2.Value, typ, kind string) *fhir.Identifier {
	return x.slabs.identifiers.box(x.eiValue(v, typ, kind))
}

// eiValue is ei for a caller that copies the Identifier: it needs no slab
// slot.
func (x *conv) eiValue(v hl7v2.Value, typ, kind string) (fhir.Identifier, bool) {
	var t [4]string // EI.1 ... EI.4, read in one pass
	v.Texts(t[:])
	val := t[0]
	if val == "" {
		return fhir.Identifier{}, false
	}
	sys, known := x.authoritySystem(t[1], t[2], t[3])
	if !known {
		// An EI's namespace names the application that assigned it (the
		// placer, the filler), so it scopes the number whoever sends it:
		// the clinic's ORM and the lab's ORU then agree on the placer
		// number's system. Without one, the sender scopes it.
		if ns := t[1]; ns != "" {
			base := x.base()
			sys = urns.get(urnNamespace, func() string { return base + ":" + sanitise(ns) + ":" + kind }, base, ns, kind)
		} else {
			sys = x.system(kind)
		}
	}
	id := fhir.Identifier{System: sys, Value: val}
	if typ != "" {
		id.Type = identifierType(typ)
	}
	return id, true
}

var nameUse = map[string]string{
	"L": "official", "D": "usual", "R": "official", "BAD": "old", "M": "maiden",
	"N": "nickname", "NAV": "temp", "TEMP": "temp", "MSK": "anonymous", "A": "usual",
	"S": "anonymous", "C": "official", "B": "official",
}

// xpn converts one XPN repetition; nil when it holds no name.
func (x *conv) xpn(v hl7v2.Value) *fhir.HumanName {
	return x.slabs.names.box(x.xpnValue(v))
}

// xpnValue is xpn for a caller that copies the name into a list of its
// own (a resource's names): it needs no slab slot.
func (x *conv) xpnValue(v hl7v2.Value) (fhir.HumanName, bool) {
	var t [13]string // XPN.1 ... XPN.13, read in one pass
	v.Texts(t[:])
	n, ok := x.personNameOf(v, 1, t[1:6])
	if ok {
		n.Use = nameUse[t[6]]
		n.Period = x.validity(v.Comp(10), t[11], t[12])
	}
	return n, ok
}

// validity is the period of a name (XPN.12, XPN.13), address (XAD.13,
// XAD.14) or telecom (XTN.13, XTN.14) from its effective and expiration
// dates, or when neither is sent from rng, the validity range (DR) they
// replaced (XPN.10, XAD.12), as the IG's XPN[HumanName] and XAD[Address]
// maps say; nil when there are no dates. A date that cannot be read is
// left out, as CX.7/8 are.
func (x *conv) validity(rng hl7v2.Value, effective, expiration string) *fhir.Period {
	if effective == "" && expiration == "" {
		effective, expiration = rng.Sub(1).Trimmed(), rng.Sub(2).Trimmed()
	}
	start, _ := x.dateTime(effective)
	end, _ := x.dateTime(expiration)
	if endsBefore(start, end) {
		end = "" // per-1: an expiration before the effective date says nothing sure
	}
	if start == "" && end == "" {
		return nil
	}
	return &fhir.Period{Start: start, End: end}
}

// xcnName is the HumanName inside an XCN, whose components 2-7 are an
// XPN's 1-6 behind the person's id; false when it holds no name. XCN-10
// (name type) is not read: a practitioner's name is written without a use.
func (x *conv) xcnName(v hl7v2.Value) (fhir.HumanName, bool) {
	const family = 2
	var t [7]string
	v.Texts(t[:family+5])
	return x.personNameOf(v, family, t[family:family+5])
}

// personNameOf reads the family name (its surname, subcomponent 1 of
// component family), and given and further given names, suffix, prefix
// and degree from t, the texts of the five components that follow it (the
// layout XPN and XCN share); false when there is neither a family nor a
// given name. The name's lists come from the conv's slabs.
func (x *conv) personNameOf(v hl7v2.Value, family int, t []string) (fhir.HumanName, bool) {
	fam := v.Comp(family).Sub(1).Trimmed()
	given := 0
	if t[0] != "" {
		given++
	}
	if t[1] != "" {
		for range strings.FieldsSeq(t[1]) {
			given++
		}
	}
	if fam == "" && given == 0 {
		return fhir.HumanName{}, false
	}
	n := fhir.HumanName{Family: fam}
	if given > 0 {
		n.Given = x.slabs.strings(given)
	}
	if g := t[0]; g != "" {
		n.Given = append(n.Given, g)
	}
	if g := t[1]; g != "" {
		for f := range strings.FieldsSeq(g) {
			n.Given = append(n.Given, f)
		}
	}
	if suffixes := boolInt(t[2] != "") + boolInt(t[4] != ""); suffixes > 0 {
		n.Suffix = x.slabs.strings(suffixes)
	}
	if s := t[2]; s != "" {
		n.Suffix = append(n.Suffix, s)
	}
	if p := t[3]; p != "" {
		n.Prefix = append(x.slabs.strings(1), p)
	}
	if d := t[4]; d != "" {
		n.Suffix = append(n.Suffix, d)
	}
	return n, true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nameText(n *fhir.HumanName) string {
	if n == nil {
		return ""
	}
	var stack [8]string
	parts := append(append(append(stack[:0], n.Prefix...), n.Given...), n.Family)
	return strings.TrimSpace(strings.Join(parts, " "))
}

// practitioner converts an XCN to a reference: a Practitioner entry when the
// XCN carries an id, a display-only reference when it holds only a name, nil
// when empty.
func (x *conv) practitioner(v hl7v2.Value) *fhir.Reference {
	if v.Empty() || v.IsNull() {
		return nil
	}
	var name *fhir.HumanName
	n, named := x.xcnName(v)
	if named {
		name = &n
	}
	id := v.Text(1)
	if id == "" {
		if name == nil {
			return nil
		}
		return &fhir.Reference{Display: nameText(name)}
	}
	aa := v.Comp(9)
	// XCN.13 is a table 0203 code, upper case, which senders write in
	// any case, as CX.5.
	return x.practitionerEntry(id, name, aa.Sub(1).Trimmed(), aa.Sub(2).Trimmed(), aa.Sub(3).Trimmed(), strings.ToUpper(v.Text(13)))
}

// cnn converts a CNN (the name in OBR-32..35, an NDL's first component,
// whose parts are subcomponents: id, family, given, second name, suffix,
// prefix, degree, source table, authority namespace, universal id and its
// type) to a reference as practitioner does for an XCN.
func (x *conv) cnn(c hl7v2.Value) *fhir.Reference {
	if c.Empty() || c.IsNull() {
		return nil
	}
	var s [11]string
	for i := range s {
		s[i] = c.Sub(i + 1).Trimmed()
	}
	name := &fhir.HumanName{Family: s[1]}
	if s[2] != "" {
		name.Given = append(name.Given, s[2])
	}
	if s[3] != "" {
		name.Given = append(name.Given, strings.Fields(s[3])...)
	}
	if s[4] != "" {
		name.Suffix = append(name.Suffix, s[4])
	}
	if s[5] != "" {
		name.Prefix = append(name.Prefix, s[5])
	}
	if s[6] != "" {
		name.Suffix = append(name.Suffix, s[6])
	}
	if name.Family == "" && len(name.Given) == 0 {
		name = nil
	}
	if s[0] == "" {
		if name == nil {
			return nil
		}
		return &fhir.Reference{Display: nameText(name)}
	}
	return x.practitionerEntry(s[0], name, s[8], s[9], s[10], "")
}

// practitionerEntry adds a Practitioner with the id assigned by the
// authority (namespace, universal id and its type; idType is XCN.13) and
// returns the reference to it, named for display.
func (x *conv) practitionerEntry(id string, name *fhir.HumanName, ns, universal, universalType, idType string) *fhir.Reference {
	sys, known := x.authoritySystem(ns, universal, universalType)
	if !known {
		sys = x.system("practitioner")
		if ns == "" {
			// Named by its universal id alone, of a type that is no
			// OID, UUID or URI: that id is the authority's name, as it
			// is for a CX (authoritySystem).
			ns = universal
		}
		if ns != "" {
			sys += ":" + sanitise(ns)
		}
	}
	ident := fhir.Identifier{System: sys, Value: id}
	if idType != "" {
		ident.Type = identifierType(idType)
		if idType == "NPI" {
			ident.System = sysNPI
		}
	}
	key, placeholder := ident, !keyable(ident)
	if placeholder {
		key = x.placeholderKey(id, personKey(name))
	}
	if name == nil {
		if placeholder {
			// A placeholder NPI without a name names no one: a
			// reference by it would link whoever carries it.
			return nil
		}
		return x.nameless(ident, key)
	}
	// The Practitioner and its identifier and name: one allocation.
	box := x.slabs.practitioners.one()
	box.ids[0] = ident
	box.p = fhir.Practitioner{ResourceType: "Practitioner", Identifier: box.ids[:1]}
	if placeholder {
		box.ids[1] = key
		box.p.Identifier = box.ids[:2]
	}
	box.names[0] = *name
	box.p.Name = box.names[:]
	ref := x.slabs.references.next()
	*ref = x.add("Practitioner", key, &box.p)
	ref.Display = nameText(name)
	return ref
}

// nameless is the reference to a doctor a field names by id alone
// (PV1-7 "1234^^^^^^^^HOSP", a PRD with PLN ids and no name): ident is
// the id as sent, key what a named Practitioner with it is keyed by. A
// Practitioner written from it would have no name, which US Core's
// Practitioner.name (1..*) does not allow, and, PUT whole, would take
// away the name the exchange holds for the doctor. So none is written:
// when the message has already named the doctor the reference is to
// that Practitioner, otherwise it is a logical reference by the
// identifier (R4 Reference.identifier: "used when there is no way to
// reference the other resource directly"), which the exchange resolves
// by the identifier its Practitioner carries, and which dangles nowhere
// when no message ever named the doctor.
func (x *conv) nameless(ident, key fhir.Identifier) *fhir.Reference {
	ref := x.slabs.references.next()
	var urn [urnLen]byte
	uuid5URN(&urn, "Practitioner", key.System, key.Value)
	for _, e := range x.entries {
		if e.FullURL == string(urn[:]) {
			*ref = x.refTo(e)
			if p, ok := e.Resource.(*fhir.Practitioner); ok && len(p.Name) > 0 {
				ref.Display = nameText(&p.Name[0])
			}
			return ref
		}
	}
	id := x.slabs.identifiers.next()
	*id = ident
	*ref = fhir.Reference{Type: "Practitioner", Identifier: id}
	return ref
}

// keyable reports whether id may key the Practitioner or Organization it
// is sent on. An NPI names one provider for life, but a value under the
// NPI's system that is not an NPI (5555555555, 1234567890, a twelve-digit
// 999999943252: EHRs fill such in for staff without one) names no one:
// keyed by it, everyone who carries it would be one resource at the
// exchange. It stays an identifier of the resource (as the C-CDA
// converter keeps it).
func keyable(id fhir.Identifier) bool {
	return id.System != sysNPI || npi.Valid(id.Value)
}

// placeholderKey keys a Practitioner or Organization whose identifier is
// a placeholder NPI (see keyable) by that value and the name it is given,
// within the sending facility: the same doctor named again is one
// resource, and each re-send writes it again, but two people given the
// same placeholder are two. The key is sent as an identifier of its own,
// which a conditional write searches by.
func (x *conv) placeholderKey(value, name string) fhir.Identifier {
	return fhir.Identifier{System: x.system("placeholder-npi"), Value: value + "^" + name}
}

// personKey is the part of a name a placeholder NPI's key holds: family
// and given names, as an XCN writes them.
func personKey(n *fhir.HumanName) string {
	if n == nil {
		return ""
	}
	return n.Family + "^" + strings.Join(n.Given, " ")
}

var addressUse = map[string]string{"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "old", "BI": "billing"}

// xad converts one XAD repetition; nil when empty.
func (x *conv) xad(v hl7v2.Value) *fhir.Address {
	return x.slabs.addresses.box(x.xadValue(v))
}

// xadValue is xad for a caller that copies the address into a list of
// its own: it needs no slab slot.
func (x *conv) xadValue(v hl7v2.Value) (fhir.Address, bool) {
	var t [14]string // XAD.1 ... XAD.14, read in one pass
	v.Texts(t[:])
	line1 := v.Comp(1).Sub(1).Trimmed()
	a := fhir.Address{
		City:       t[2],
		State:      t[3],
		PostalCode: t[4],
		Country:    t[5],
		District:   firstSub(v.Comp(9)),
	}
	if line1 == "" && t[1] == "" && a.City == "" && a.State == "" && a.PostalCode == "" && a.Country == "" && a.District == "" {
		return fhir.Address{}, false
	}
	if lines := boolInt(line1 != "") + boolInt(t[1] != ""); lines > 0 {
		a.Line = x.slabs.strings(lines)
	}
	if line1 != "" {
		a.Line = append(a.Line, line1)
	}
	if l := t[1]; l != "" {
		a.Line = append(a.Line, l)
	}
	a.Use = addressUse[t[6]]
	switch t[6] {
	case "M":
		a.Type = "postal"
	case "SH":
		a.Type = "physical"
	}
	a.Period = x.validity(v.Comp(12), t[12], t[13])
	return a, true
}

// xtn converts one XTN repetition; defaultUse applies when XTN.2 is empty.
func (x *conv) xtn(v hl7v2.Value, defaultUse string) *fhir.ContactPoint {
	return x.slabs.contacts.box(x.xtnValue(v, defaultUse))
}

// xtnValue is xtn for a caller that copies the contact point into a list
// of its own: it needs no slab slot.
func (x *conv) xtnValue(v hl7v2.Value, defaultUse string) (fhir.ContactPoint, bool) {
	var cp fhir.ContactPoint
	var t [14]string // XTN.1 ... XTN.14, read in one pass
	v.Texts(t[:])
	// Senders write these codes in any case (INTERNET, ph, prn); no two
	// codes of either table differ only in case.
	use, equip := tableCode(t[1], table0201), tableCode(t[2], table0202)
	switch use {
	case "PRN", "ORN", "VHN":
		cp.Use = "home"
	case "WPN":
		cp.Use = "work"
	case "PRS":
		cp.Use = "mobile"
	case "":
		cp.Use = defaultUse
	}
	switch equip {
	case "PH", "":
		cp.System = "phone"
	case "CP":
		cp.System = "phone"
		cp.Use = "mobile"
	case "FX":
		cp.System = "fax"
	case "BP":
		cp.System = "pager"
	case "Internet", "X.400":
		cp.System = "email"
	default:
		cp.System = "other"
	}
	if use == "NET" || (equip == "" && t[3] != "" && t[0] == "" && t[6] == "" && t[11] == "") {
		// XTN.3 is required only from v2.7: an XTN.4 without it is an
		// e-mail address (the IG's XTN[ContactPoint] map), unless a
		// number beside it makes the XTN a phone.
		cp.System = "email"
	}
	if cp.System == "email" {
		cp.Value = orStr(t[3], t[0])
	} else {
		cp.Value = orStr(t[11], phone(&x.slabs.text, t[4], t[5], t[6], t[7]), t[0])
	}
	if cp.Value == "" {
		return fhir.ContactPoint{}, false
	}
	cp.Period = x.validity(hl7v2.Value{}, t[12], t[13])
	return cp, true
}

// The codes of tables 0201 (telecommunication use) and 0202
// (telecommunication equipment type) as the tables spell them.
var (
	table0201 = []string{"PRN", "ORN", "WPN", "VHN", "ASN", "EMR", "NET", "BPN", "PRS"}
	table0202 = []string{"PH", "FX", "MD", "CP", "SAT", "BP", "Internet", "X.400", "TDD", "TTY"}
)

// tableCode is s spelt as the code of codes it equals but for case, or s
// when it is none of them.
func tableCode(s string, codes []string) string {
	for _, c := range codes {
		if c == s {
			return c
		}
	}
	for _, c := range codes {
		if strings.EqualFold(c, s) {
			return c
		}
	}
	return s
}

// phone builds a number from XTN.5 (country), .6 (area), .7 (local), .8
// (ext): "+cc (area) 555-1234 ext. ext", joined in t in one piece rather
// than by a concatenation per part.
func phone(t *textArena, cc, area, local, ext string) string {
	if local == "" {
		return ""
	}
	var parts [11]string
	n := 0
	if cc != "" {
		parts[0], parts[1], parts[2] = "+", strings.TrimPrefix(cc, "+"), " "
		n = 3
	}
	if area != "" {
		parts[n], parts[n+1], parts[n+2] = "(", area, ") "
		n += 3
	}
	if len(local) == 7 && allDigits(local) {
		parts[n], parts[n+1], parts[n+2] = local[:3], "-", local[3:]
		n += 3
	} else {
		parts[n] = local
		n++
	}
	if ext != "" {
		parts[n], parts[n+1] = " ext. ", ext
		n += 2
	}
	return t.cat(parts[:n]...)
}

// dtm parses an HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ].
type dtm struct {
	digits string // 4..14 digits
	frac   string // digits after '.'
	zone   string // "+hhmm" / "-hhmm" / ""
}

func parseDTM(s string) (dtm, bool) {
	var d dtm
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		d.zone, s = s[i:], s[:i]
		if len(d.zone) != 5 || !allDigits(d.zone[1:]) {
			return d, false
		}
		// FHIR's offsets: minutes to 59, at most 14:00 either way.
		if hh, mm := digitsNum(d.zone, 1, 3), digitsNum(d.zone, 3, 5); mm > 59 || hh*60+mm > 14*60 {
			return d, false
		}
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		d.frac, s = s[i+1:], s[:i]
		if !allDigits(d.frac) {
			return d, false
		}
	}
	if !allDigits(s) || len(s) < 4 || len(s) > 14 || len(s)%2 != 0 {
		return d, false
	}
	d.digits = s
	if d.frac != "" && len(s) != 14 {
		return d, false
	}
	return d, d.valid()
}

func (d dtm) num(i, j int) int {
	n := 0
	for _, c := range d.digits[i:j] {
		n = n*10 + int(c-'0')
	}
	return n
}

// daysIn is the number of days of month (1-12) in the proleptic Gregorian
// year, as time.Date's normalisation counts them.
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

func (d dtm) valid() bool {
	l := len(d.digits)
	if l >= 6 && (d.num(4, 6) < 1 || d.num(4, 6) > 12) {
		return false
	}
	if l >= 8 {
		if day := d.num(6, 8); day < 1 || day > daysIn(d.num(4, 6), d.num(0, 4)) {
			return false
		}
	}
	if l >= 10 && d.num(8, 10) > 23 {
		return false
	}
	if l >= 12 && d.num(10, 12) > 59 {
		return false
	}
	if l >= 14 && d.num(12, 14) > 59 {
		return false
	}
	return true
}

// date renders a DTM at date precision at most (FHIR date), "" when empty.
func (x *conv) date(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	d, ok := parseDTM(s)
	if !ok {
		return "", false
	}
	switch l := len(d.digits); {
	case l == 4:
		return d.digits, true
	case l == 6:
		return x.slabs.text.cat(d.digits[:4], "-", d.digits[4:6]), true
	default:
		return x.slabs.text.cat(d.digits[:4], "-", d.digits[4:6], "-", d.digits[6:8]), true
	}
}

// endsBefore reports whether end (a FHIR date or dateTime) is before start,
// which FHIR R4's per-1 forbids in a Period ("If present, start SHALL have
// a lower value than end"). Two times are compared as instants, since a
// sender's offsets differ across a clock change; otherwise the dates are
// compared at the precision both have, as FHIRPath does.
func endsBefore(start, end string) bool {
	if start == "" || end == "" {
		return false
	}
	if len(start) > len("2006-01-02") && len(end) > len("2006-01-02") {
		s, err1 := time.Parse(time.RFC3339Nano, start)
		e, err2 := time.Parse(time.RFC3339Nano, end)
		if err1 == nil && err2 == nil {
			return e.Before(s)
		}
	}
	n := min(len(start), len(end), len("2006-01-02"))
	return end[:n] < start[:n]
}

// dateTime renders a DTM as a FHIR dateTime, keeping its precision; a time
// without an offset is read in the converter's Location. FHIR needs seconds
// once a time is given, so HH and HHMM are padded.
func (x *conv) dateTime(s string) (string, bool) {
	if out, ok := x.times.get(s); ok {
		return out, true
	}
	d, ok := parseDTM(s)
	if s == "" || !ok {
		return "", s == ""
	}
	if len(d.digits) <= 8 {
		return x.date(s)
	}
	return x.times.render(&x.slabs.text, s, d, x.loc), true
}

// timeCache remembers the last few times a conversion rendered, by their
// v2 text: a lab's OBR-7 recurs as every OBX-14, and each rendering costs
// an allocation. Only times with a time of day (more than 8 digits) are
// kept, which dateTime and instant render alike.
type timeCache struct {
	in, out [4]string
	next    int
}

func (c *timeCache) get(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	for i := range c.in {
		if c.in[i] == s {
			return c.out[i], true
		}
	}
	return "", false
}

// render is d.render(loc), carved from t and remembered under s (the
// text d was parsed from).
func (c *timeCache) render(t *textArena, s string, d dtm, loc *time.Location) string {
	var buf [64]byte
	out := t.bytes(d.appendTo(buf[:0], loc))
	if len(d.digits) > 8 {
		c.in[c.next], c.out[c.next] = s, out
		c.next = (c.next + 1) % len(c.in)
	}
	return out
}

// render is d as a FHIR dateTime, built in a stack buffer: one
// allocation per rendered time.
func (d dtm) render(loc *time.Location) string {
	var buf [64]byte
	return string(d.appendTo(buf[:0], loc))
}

// appendTo appends d rendered as a FHIR dateTime (see render) to out.
func (d dtm) appendTo(out []byte, loc *time.Location) []byte {
	// Pad to YYYYMMDDHHMMSS: a missing month or day is 01, a missing time 0.
	var pad [14]byte
	digits := append(append(pad[:0], d.digits...), "0101000000"[len(d.digits)-4:]...)
	out = append(out, digits[:4]...)
	out = append(out, '-')
	out = append(out, digits[4:6]...)
	out = append(out, '-')
	out = append(out, digits[6:8]...)
	out = append(out, 'T')
	out = append(out, digits[8:10]...)
	out = append(out, ':')
	out = append(out, digits[10:12]...)
	out = append(out, ':')
	out = append(out, digits[12:14]...)
	if d.frac != "" {
		out = append(out, '.')
		out = append(out, d.frac...)
	}
	if d.zone != "" {
		out = append(out, d.zone[:3]...)
		out = append(out, ':')
		out = append(out, d.zone[3:]...)
		return out
	}
	// The zone's offset at that clock time; one it skips or has twice
	// (a daylight-saving change) as wallclock chooses.
	offset := wallclock.Offset(d.num(0, 4), time.Month(bytesNum(digits, 4, 6)), bytesNum(digits, 6, 8), bytesNum(digits, 8, 10), bytesNum(digits, 10, 12), bytesNum(digits, 12, 14), loc)
	return appendZone(out, offset)
}

// appendOffset appends t's zone offset as t.Format("-07:00") would.
func appendOffset(b []byte, t time.Time) []byte {
	_, offset := t.Zone()
	return appendZone(b, offset)
}

// appendZone appends a zone offset in seconds as time.Format("-07:00")
// writes it.
func appendZone(b []byte, offset int) []byte {
	zone := offset / 60 // minutes, truncated as the time package does
	if zone < 0 {
		b = append(b, '-')
		zone = -zone
	} else {
		b = append(b, '+')
	}
	h, m := zone/60, zone%60
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10))
}

func bytesNum(s []byte, i, j int) int {
	n := 0
	for _, c := range s[i:j] {
		n = n*10 + int(c-'0')
	}
	return n
}

func digitsNum(s string, i, j int) int {
	n := 0
	for _, c := range s[i:j] {
		n = n*10 + int(c-'0')
	}
	return n
}

// instant renders field n of seg as a FHIR instant (padded to seconds), ""
// when empty, or a ContentError when malformed.
func (x *conv) instant(seg hl7v2.Segment, n int) (string, error) {
	s := seg.Field(n).Text(1)
	if s == "" {
		return "", nil
	}
	if out, ok := x.times.get(s); ok {
		return out, nil
	}
	d, ok := parseDTM(s)
	if !ok {
		return "", x.badField(seg, n, "invalid date/time")
	}
	return x.times.render(&x.slabs.text, s, d, x.loc), nil
}

// fieldDateTime converts field n (component 1) of seg to a FHIR dateTime.
func (x *conv) fieldDateTime(seg hl7v2.Segment, n int) (string, error) {
	s, ok := x.dateTime(seg.Field(n).Text(1))
	if !ok {
		return "", x.badField(seg, n, "invalid date/time")
	}
	return s, nil
}

func (x *conv) badField(seg hl7v2.Segment, n int, reason string) error {
	return &ContentError{Segment: seg.Name, Pos: seg.Pos(), Field: seg.Name + "-" + itoa(n), Reason: reason}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// firstSub is the first non-empty subcomponent of a component, for fields
// that later versions turned into coded types (XAD.9 county became CWE).
func firstSub(c hl7v2.Value) string {
	for i := 1; i <= 3; i++ {
		if s := c.Sub(i).Trimmed(); s != "" {
			return s
		}
	}
	return ""
}

// practitionerBox is a Practitioner and its identifier (and the key a
// placeholder NPI gets) and name.
type practitionerBox struct {
	p     fhir.Practitioner
	ids   [2]fhir.Identifier
	names [1]fhir.HumanName
}
