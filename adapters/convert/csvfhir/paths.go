package csvfhir

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// kind is how a cell is read for a path.
type kind int

const (
	kText     kind = iota // kept as written, surrounding spaces trimmed
	kCode                 // one of pathSpec.codes, letter case ignored
	kDate                 // a FHIR date (birthDate)
	kDateTime             // a FHIR dateTime
	kDecimal              // a FHIR decimal
	kBool                 // true/false, yes/no, y/n, 1/0
	kSystem               // a code system: a URI, or a name in codeSystems
	kValue                // an Observation value: a decimal (with an optional comparator) or text
)

// pathSpec describes one path a column may map to.
type pathSpec struct {
	kind  kind
	codes []string // kCode: the codes allowed
	multi bool     // several columns may fill it (a repeating element)
}

// paths lists, per resource type, the element paths a column may map to:
// a deliberately small set that carries what a clinic's export holds
// and what the exchange (US Core) needs. Paths are FHIR's, with a few
// shorthands: a code's system and display are code.system and
// code.display; telecom.phone, telecom.mobile and telecom.email are
// ContactPoints of that kind; an Observation's "value" is a quantity when
// the cell is a number (with its unit from valueQuantity.unit or the UCUM
// code from valueQuantity.ucum), a range with that unit ("0-2"), a
// ratio for a titer ("1:40"), and a string otherwise.
var paths = map[string]map[string]*pathSpec{
	"Patient": {
		"name.family":            {kind: kText},
		"name.given":             {kind: kText, multi: true},
		"name.prefix":            {kind: kText, multi: true},
		"name.suffix":            {kind: kText, multi: true},
		"name.text":              {kind: kText},
		"gender":                 {kind: kCode, codes: []string{"male", "female", "other", "unknown"}},
		"birthDate":              {kind: kDate},
		"deceasedBoolean":        {kind: kBool},
		"deceasedDateTime":       {kind: kDateTime},
		"address.line":           {kind: kText, multi: true},
		"address.city":           {kind: kText},
		"address.district":       {kind: kText},
		"address.state":          {kind: kText},
		"address.postalCode":     {kind: kText},
		"address.country":        {kind: kText},
		"telecom.phone":          {kind: kText},
		"telecom.mobile":         {kind: kText},
		"telecom.email":          {kind: kText},
		"communication.language": {kind: kText},
	},
	"Observation": {
		"code":                {kind: kText},
		"code.system":         {kind: kSystem},
		"code.display":        {kind: kText},
		"code.text":           {kind: kText},
		"status":              {kind: kCode, codes: []string{"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}},
		"category":            {kind: kCode, codes: []string{"social-history", "vital-signs", "imaging", "laboratory", "procedure", "survey", "exam", "therapy", "activity"}},
		"effectiveDateTime":   {kind: kDateTime},
		"value":               {kind: kValue},
		"valueQuantity.value": {kind: kDecimal},
		"valueQuantity.unit":  {kind: kText},
		"valueQuantity.ucum":  {kind: kText},
		"valueString":         {kind: kText},
		"interpretation":      {kind: kCode, codes: interpretationCodes},
		"referenceRange.low":  {kind: kDecimal},
		"referenceRange.high": {kind: kDecimal},
		"referenceRange.text": {kind: kText},
		"note":                {kind: kText, multi: true},
		"dataAbsentReason":    {kind: kCode, codes: []string{"unknown", "asked-unknown", "temp-unknown", "not-asked", "asked-declined", "masked", "not-applicable", "unsupported", "as-text", "error", "not-a-number", "negative-infinity", "positive-infinity", "not-performed", "not-permitted"}},
		"method.text":         {kind: kText},
		"bodySite.text":       {kind: kText},
		"specimen.display":    {kind: kText},
		"performer.display":   {kind: kText},
	},
	"Condition": {
		"code":               {kind: kText},
		"code.system":        {kind: kSystem},
		"code.display":       {kind: kText},
		"code.text":          {kind: kText},
		"clinicalStatus":     {kind: kCode, codes: []string{"active", "recurrence", "relapse", "inactive", "remission", "resolved"}},
		"verificationStatus": {kind: kCode, codes: []string{"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}},
		"category":           {kind: kCode, codes: []string{"problem-list-item", "encounter-diagnosis", "health-concern"}},
		"severity.text":      {kind: kText},
		"onsetDateTime":      {kind: kDateTime},
		"abatementDateTime":  {kind: kDateTime},
		"recordedDate":       {kind: kDateTime},
		"note":               {kind: kText, multi: true},
	},
	"AllergyIntolerance": {
		"code":                   {kind: kText},
		"code.system":            {kind: kSystem},
		"code.display":           {kind: kText},
		"code.text":              {kind: kText},
		"clinicalStatus":         {kind: kCode, codes: []string{"active", "inactive", "resolved"}},
		"verificationStatus":     {kind: kCode, codes: []string{"unconfirmed", "confirmed", "refuted", "entered-in-error"}},
		"type":                   {kind: kCode, codes: []string{"allergy", "intolerance"}},
		"category":               {kind: kCode, codes: []string{"food", "medication", "environment", "biologic"}},
		"criticality":            {kind: kCode, codes: []string{"low", "high", "unable-to-assess"}},
		"onsetDateTime":          {kind: kDateTime},
		"recordedDate":           {kind: kDateTime},
		"reaction.manifestation": {kind: kText},
		"reaction.severity":      {kind: kCode, codes: []string{"mild", "moderate", "severe"}},
		"note":                   {kind: kText, multi: true},
	},
	"Immunization": {
		"vaccineCode":         {kind: kText},
		"vaccineCode.system":  {kind: kSystem},
		"vaccineCode.display": {kind: kText},
		"vaccineCode.text":    {kind: kText},
		"status":              {kind: kCode, codes: []string{"completed", "entered-in-error", "not-done"}},
		"occurrenceDateTime":  {kind: kDateTime},
		"recorded":            {kind: kDateTime},
		"primarySource":       {kind: kBool},
		"lotNumber":           {kind: kText},
		"site.text":           {kind: kText},
		"route.text":          {kind: kText},
		"doseQuantity.value":  {kind: kDecimal},
		"doseQuantity.unit":   {kind: kText},
		"performer.display":   {kind: kText},
		"note":                {kind: kText, multi: true},
	},
	"Encounter": {
		"status":              {kind: kCode, codes: []string{"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"}},
		"class":               {kind: kCode, codes: encounterClasses},
		"type":                {kind: kText},
		"type.system":         {kind: kSystem},
		"type.display":        {kind: kText},
		"type.text":           {kind: kText},
		"period.start":        {kind: kDateTime},
		"period.end":          {kind: kDateTime},
		"reasonCode":          {kind: kText},
		"reasonCode.system":   {kind: kSystem},
		"reasonCode.display":  {kind: kText},
		"reasonCode.text":     {kind: kText},
		"participant.display": {kind: kText},
		"location.display":    {kind: kText},
	},
	"Procedure": {
		"code":                  {kind: kText},
		"code.system":           {kind: kSystem},
		"code.display":          {kind: kText},
		"code.text":             {kind: kText},
		"status":                {kind: kCode, codes: []string{"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}},
		"performedDateTime":     {kind: kDateTime},
		"performedPeriod.start": {kind: kDateTime},
		"performedPeriod.end":   {kind: kDateTime},
		"reasonCode":            {kind: kText},
		"reasonCode.system":     {kind: kSystem},
		"reasonCode.display":    {kind: kText},
		"reasonCode.text":       {kind: kText},
		"bodySite.text":         {kind: kText},
		"performer.display":     {kind: kText},
		"location.display":      {kind: kText},
		"note":                  {kind: kText, multi: true},
	},
	"MedicationRequest": {
		"medication":             {kind: kText},
		"medication.system":      {kind: kSystem},
		"medication.display":     {kind: kText},
		"medication.text":        {kind: kText},
		"status":                 {kind: kCode, codes: []string{"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"}},
		"intent":                 {kind: kCode, codes: []string{"proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"}},
		"category":               {kind: kCode, codes: []string{"inpatient", "outpatient", "community", "discharge"}},
		"reportedBoolean":        {kind: kBool},
		"authoredOn":             {kind: kDateTime},
		"requester.display":      {kind: kText},
		"dosageInstruction.text": {kind: kText},
		"reasonCode":             {kind: kText},
		"reasonCode.system":      {kind: kSystem},
		"reasonCode.display":     {kind: kText},
		"reasonCode.text":        {kind: kText},
		"note":                   {kind: kText, multi: true},
	},
}

// required lists, per resource type, the paths a mapping must fill (by
// a column or set): each inner list holds alternatives.
var required = map[string][][]string{
	"Patient":            {{"name.family", "name.given", "name.text"}},
	"Observation":        {{"code", "code.text"}},
	"Condition":          {{"code", "code.text"}},
	"AllergyIntolerance": {{"code", "code.text"}},
	"Immunization":       {{"vaccineCode", "vaccineCode.text"}, {"occurrenceDateTime"}},
	// US Core Encounter: class 1..1 and type 1..*; class is not guessed
	// (a clinic's visits are AMB, but an export may hold a hospital stay).
	"Encounter": {{"class"}, {"type", "type.text", "type.display"}},
	// US Core Procedure: code 1..1, and performed[x] when completed (the
	// default status) or in progress (us-core-7).
	"Procedure": {{"code", "code.text", "code.display"}, {"performedDateTime", "performedPeriod.start", "performedPeriod.end"}},
	// US Core MedicationRequest: medication[x] 1..1.
	"MedicationRequest": {{"medication", "medication.text", "medication.display"}},
}

// codedPaths lists, per resource type, the code paths whose code system
// a mapping must give when it maps the code, since none is usual enough
// to be a default: {code path, its system path}. (Condition and
// AllergyIntolerance are checked on their own, in Validate.)
var codedPaths = map[string][][2]string{
	"Encounter": {{"type", "type.system"}, {"reasonCode", "reasonCode.system"}},
	// US Core Procedure codes are SNOMED CT, CPT, HCPCS, ICD-10-PCS,
	// CDT or LOINC, and an export's column is one of them.
	"Procedure":         {{"code", "code.system"}, {"reasonCode", "reasonCode.system"}},
	"MedicationRequest": {{"reasonCode", "reasonCode.system"}},
}

// namedPaths lists, per resource type, the codeable paths whose exports
// often name a thing without its code (an over-the-counter drug, a
// visit type): in a row without the code or text, the display is the
// text, and so also part of a minted identifier (keyPaths).
var namedPaths = map[string][]string{
	"Encounter":         {"type", "reasonCode"},
	"Procedure":         {"code", "reasonCode"},
	"MedicationRequest": {"medication", "reasonCode"},
}

// encounterClasses are the v3-ActCode encounter codes (ActEncounterCode,
// the extensible binding of Encounter.class).
var encounterClasses = []string{"AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR"}

// encounterClassDisplay gives each class its display, as v3-ActCode has it.
var encounterClassDisplay = map[string]string{"AMB": "ambulatory", "EMER": "emergency", "FLD": "field", "HH": "home health",
	"IMP": "inpatient encounter", "ACUTE": "inpatient acute", "NONAC": "inpatient non-acute", "OBSENC": "observation encounter",
	"PRENC": "pre-admission", "SS": "short stay", "VR": "virtual"}

// interpretationCodes are the v3-ObservationInterpretation codes a lab
// export's flag column carries.
var interpretationCodes = []string{"N", "A", "AA", "H", "HH", "HU", "L", "LL", "LU", "POS", "NEG", "IND", "R", "S", "I", "DET", "ND"}

// codeSystems maps the names exports and people use for code systems to
// their FHIR URIs.
var codeSystems = map[string]string{
	"LOINC": "http://loinc.org", "LN": "http://loinc.org",
	"SNOMED": "http://snomed.info/sct", "SNOMEDCT": "http://snomed.info/sct", "SNOMED-CT": "http://snomed.info/sct", "SCT": "http://snomed.info/sct",
	"ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm", "ICD-10-CM": "http://hl7.org/fhir/sid/icd-10-cm", "I10": "http://hl7.org/fhir/sid/icd-10-cm",
	"ICD10": "http://hl7.org/fhir/sid/icd-10", "ICD-10": "http://hl7.org/fhir/sid/icd-10",
	"ICD9CM": "http://hl7.org/fhir/sid/icd-9-cm", "ICD-9-CM": "http://hl7.org/fhir/sid/icd-9-cm",
	"RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm", "RXN": "http://www.nlm.nih.gov/research/umls/rxnorm",
	"CVX":  "http://hl7.org/fhir/sid/cvx",
	"NDC":  "http://hl7.org/fhir/sid/ndc",
	"CPT":  "http://www.ama-assn.org/go/cpt",
	"UNII": "http://fdasis.nlm.nih.gov",
	// Procedure codes besides SNOMED, CPT and LOINC: HCPCS Level II has
	// no FHIR URI in R4 and is named by its OID, as on the HL7 v2 and
	// C-CDA paths.
	"HCPCS":    "urn:oid:2.16.840.1.113883.6.285",
	"ICD10PCS": "http://www.cms.gov/Medicare/Coding/ICD10", "ICD-10-PCS": "http://www.cms.gov/Medicare/Coding/ICD10", "I10P": "http://www.cms.gov/Medicare/Coding/ICD10",
	"CDT": "http://ada.org/cdt",
}

// oidSystems maps the HL7 OIDs of the code systems above to their FHIR
// URIs: FHIR R4's registry (terminologies-systems) says "If a URI is
// defined here, it SHALL be used in preference to any other identifying
// mechanisms". HCPCS has none in R4 and stays urn:oid.
var oidSystems = map[string]string{
	"2.16.840.1.113883.6.1":    "http://loinc.org",
	"2.16.840.1.113883.6.96":   "http://snomed.info/sct",
	"2.16.840.1.113883.6.90":   "http://hl7.org/fhir/sid/icd-10-cm",
	"2.16.840.1.113883.6.3":    "http://hl7.org/fhir/sid/icd-10",
	"2.16.840.1.113883.6.2":    "http://hl7.org/fhir/sid/icd-9-cm",
	"2.16.840.1.113883.6.103":  "http://hl7.org/fhir/sid/icd-9-cm",
	"2.16.840.1.113883.6.104":  "http://hl7.org/fhir/sid/icd-9-cm",
	"2.16.840.1.113883.6.88":   "http://www.nlm.nih.gov/research/umls/rxnorm",
	"2.16.840.1.113883.12.292": "http://hl7.org/fhir/sid/cvx",
	"2.16.840.1.113883.6.59":   "http://hl7.org/fhir/sid/cvx",
	"2.16.840.1.113883.6.69":   "http://hl7.org/fhir/sid/ndc",
	"2.16.840.1.113883.6.12":   "http://www.ama-assn.org/go/cpt",
	"2.16.840.1.113883.4.9":    "http://fdasis.nlm.nih.gov",
	"2.16.840.1.113883.6.4":    "http://www.cms.gov/Medicare/Coding/ICD10",
	"2.16.840.1.113883.6.13":   "http://ada.org/cdt",
}

// systemURI is the system a coding is written with: a code system's FHIR
// URI where the cell named it by its OID. The OID as read (urn:oid:...)
// stays in a row's minted identifier, so rows sent before keep their
// resources.
func systemURI(s string) string {
	if u, ok := oidSystems[strings.TrimPrefix(s, "urn:oid:")]; ok {
		return u
	}
	return s
}

// pathNames lists the paths of a resource type, sorted, for messages.
func pathNames(resource string) []string {
	out := make([]string, 0, len(paths[resource]))
	for p := range paths[resource] {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// mapHint ends the message for a code that is not one of a path's.
const mapHint = "(add a map to translate the file's codes)"

var errDecimalComma = errors.New("not a number (digits with an optional sign and decimal comma)")

var errDecimalPoint = errors.New("not a number (digits with an optional sign and decimal point; set decimal_separator: \",\" for 5,4; a thousands separator, 10,500, is not read)")

// errEmpty is parse's error for a value that is empty after mapping.
var errEmpty = errors.New("empty")

// parse reads one value for the path: v is trimmed and, for coded
// paths, put into the code's own spelling. dp reads dates (nil: the
// default formats in the local zone). Errors describe the problem
// without quoting v (it may be PHI); callers add it when allowed.
func (p *pathSpec) parse(v string, dp *cellReader) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errEmpty
	}
	if dp == nil {
		dp = defaultDates
	}
	switch p.kind {
	case kCode:
		for _, c := range p.codes {
			if strings.EqualFold(c, v) {
				return c, nil
			}
		}
		return "", fmt.Errorf("not one of %s %s", strings.Join(p.codes, ", "), mapHint)
	case kDate, kDateTime:
		return dp.parse(v, p.kind == kDate)
	case kDecimal:
		d, ok := decimal(dp.number(v))
		if !ok {
			if dp.comma {
				return "", errDecimalComma
			}
			return "", errDecimalPoint
		}
		return d, nil
	case kValue:
		// A number (with a comparator) is kept in FHIR's form, for a
		// valueQuantity; anything else is text, for a valueString.
		if cmp, num, ok := comparatorValue(dp.number(v)); ok {
			return cmp + num, nil
		}
		if _, _, ok := comparatorValue(v); ok && dp.comma {
			// 1.234 with a decimal comma: a thousand, or a typo for
			// 1,234? Either way a number, not the text of a result.
			return "", errDecimalComma
		}
		if _, _, ok := comparatorValue(strings.ReplaceAll(v, ",", "")); ok && !dp.comma && strings.Contains(v, ",") {
			// 5,4 or 10,500 with a decimal point: a number all the
			// same, which as text would lose its unit.
			return "", errDecimalPoint
		}
		return v, nil
	case kBool:
		switch strings.ToLower(v) {
		case "true", "yes", "y", "1", "t":
			return "true", nil
		case "false", "no", "n", "0", "f":
			return "false", nil
		}
		return "", errors.New("not true or false (yes/no, y/n, 1/0)")
	case kSystem:
		if s, ok := codeSystems[strings.ToUpper(v)]; ok {
			return s, nil
		}
		if isBareOID(v) {
			return "urn:oid:" + v, nil
		}
		if !strings.Contains(v, ":") || strings.ContainsAny(v, " \t|") {
			return "", errors.New("not a code system URI or a known name (LOINC, SNOMED, ICD10CM, RXNORM, CVX, NDC, CPT, HCPCS, ICD10PCS)")
		}
		return v, nil
	}
	return v, nil
}

// number puts a number written with the mapping's decimal comma into
// FHIR's form (5,4 → 5.4); a '.' is then not a decimal point, so 1.234,5
// is refused rather than misread.
func (dp *cellReader) number(v string) string {
	if !dp.comma {
		return v
	}
	if strings.Contains(v, ".") {
		return "not a number"
	}
	return strings.Replace(v, ",", ".", 1)
}

// decimal checks a FHIR R4 decimal (-?(0|[1-9][0-9]*)(\.[0-9]+)?
// ([eE][+-]?[0-9]+)?, with leading zeros, a leading '+' and a bare
// leading '.' forgiven) and returns it in FHIR's form. The exponent is
// kept as written: analysers and LIS exports write a viral load as
// 2.3E+04, whose two significant digits 23000 would overstate.
func decimal(s string) (string, bool) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	exp := ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s, exp = s[:i], s[i:]
		d := exp[1:]
		if d != "" && (d[0] == '+' || d[0] == '-') {
			d = d[1:]
		}
		if !digits(d) {
			return "", false
		}
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && !hasDot || hasDot && frac == "" {
		return "", false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return "", false
			}
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if hasDot {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out + exp, true
}
