package ccdafhir

import (
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// codeSystems maps HL7 OIDs to the canonical FHIR code system URIs (FHIR R4
// terminology, "Identifier/code system registry"; C-CDA on FHIR). An OID not
// listed here becomes urn:oid:<oid>, which is still a valid system.
var codeSystems = map[string]string{
	"2.16.840.1.113883.6.1":           "http://loinc.org",
	"2.16.840.1.113883.6.96":          "http://snomed.info/sct",
	"2.16.840.1.113883.6.88":          "http://www.nlm.nih.gov/research/umls/rxnorm",
	"2.16.840.1.113883.12.292":        "http://hl7.org/fhir/sid/cvx",
	"2.16.840.1.113883.6.90":          "http://hl7.org/fhir/sid/icd-10-cm",
	"2.16.840.1.113883.6.3":           "http://hl7.org/fhir/sid/icd-10",
	"2.16.840.1.113883.6.103":         "http://hl7.org/fhir/sid/icd-9-cm",
	"2.16.840.1.113883.6.104":         "http://hl7.org/fhir/sid/icd-9-cm",
	"2.16.840.1.113883.6.42":          "http://hl7.org/fhir/sid/icd-9-cm",
	"2.16.840.1.113883.6.69":          "http://hl7.org/fhir/sid/ndc",
	"2.16.840.1.113883.6.12":          "http://www.ama-assn.org/go/cpt",
	"2.16.840.1.113883.6.285":         "urn:oid:2.16.840.1.113883.6.285", // HCPCS has no FHIR URI in R4
	"2.16.840.1.113883.6.4":           "http://www.cms.gov/Medicare/Coding/ICD10",
	"2.16.840.1.113883.6.8":           "http://unitsofmeasure.org",
	"2.16.840.1.113883.6.238":         "urn:oid:2.16.840.1.113883.6.238",
	"2.16.840.1.113883.6.101":         "http://nucc.org/provider-taxonomy",
	"2.16.840.1.113883.6.13":          "http://ada.org/cdt",
	"2.16.840.1.113883.6.86":          "http://terminology.hl7.org/CodeSystem/umls",
	"2.16.840.1.113883.4.9":           "http://fdasis.nlm.nih.gov",
	"2.16.840.1.113883.3.26.1.1":      "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", // NCI Thesaurus (THO)
	"2.16.840.1.113883.3.26.1.5":      "http://hl7.org/fhir/ndfrt",                          // NDF-RT (drug classes)
	"2.16.840.1.113883.12.227":        "http://hl7.org/fhir/sid/mvx",
	"2.16.840.1.113883.6.59":          "http://hl7.org/fhir/sid/cvx",
	"1.0.639.1":                       "urn:ietf:bcp:47",
	"2.16.840.1.113883.1.11.11526":    "urn:ietf:bcp:47",
	"2.16.840.1.113883.6.121":         "urn:ietf:bcp:47",
	"2.16.840.1.113883.5.1":           "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender",
	"2.16.840.1.113883.5.2":           "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
	"2.16.840.1.113883.5.4":           "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	"2.16.840.1.113883.5.6":           "http://terminology.hl7.org/CodeSystem/v3-ActClass",
	"2.16.840.1.113883.5.8":           "http://terminology.hl7.org/CodeSystem/v3-ActReason",
	"2.16.840.1.113883.5.85":          "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
	"2.16.840.1.113883.5.25":          "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
	"2.16.840.1.113883.5.83":          "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
	"2.16.840.1.113883.5.88":          "http://terminology.hl7.org/CodeSystem/v3-ParticipationFunction",
	"2.16.840.1.113883.5.90":          "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
	"2.16.840.1.113883.5.110":         "http://terminology.hl7.org/CodeSystem/v3-RoleClass",
	"2.16.840.1.113883.5.111":         "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
	"2.16.840.1.113883.5.112":         "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration",
	"2.16.840.1.113883.5.1008":        "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
	"2.16.840.1.113883.5.1063":        "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"2.16.840.1.113883.5.1076":        "http://terminology.hl7.org/CodeSystem/v3-ReligiousAffiliation",
	"2.16.840.1.113883.5.1119":        "http://terminology.hl7.org/CodeSystem/v3-AddressUse",
	"2.16.840.1.113883.5.14":          "http://terminology.hl7.org/CodeSystem/v3-ActStatus",
	"2.16.840.1.113883.5.1001":        "http://terminology.hl7.org/CodeSystem/v3-ActMood",
	"2.16.840.1.113883.5.7":           "http://terminology.hl7.org/CodeSystem/v3-ActPriority",
	"2.16.840.1.113883.5.1052":        "http://terminology.hl7.org/CodeSystem/v3-ActSite",
	"2.16.840.1.113883.5.43":          "http://terminology.hl7.org/CodeSystem/v3-EntityNamePartQualifier",
	"2.16.840.1.113883.5.45":          "http://terminology.hl7.org/CodeSystem/v3-EntityNameUse",
	"2.16.840.1.113883.5.60":          "http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityMode",
	"2.16.840.1.113883.5.61":          "http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityProficiency",
	"2.16.840.1.113883.5.525":         "http://terminology.hl7.org/CodeSystem/v3-EntityCode",
	"2.16.840.1.113883.5.79":          "http://terminology.hl7.org/CodeSystem/v3-MediaType",
	"2.16.840.1.113883.5.89":          "http://terminology.hl7.org/CodeSystem/v3-ParticipationSignature",
	"2.16.840.1.113883.5.1105":        "http://terminology.hl7.org/CodeSystem/v3-hl7Realm",
	"2.16.840.1.113883.18.2":          "http://terminology.hl7.org/CodeSystem/v2-0001",
	"2.16.840.1.113883.12.1":          "http://terminology.hl7.org/CodeSystem/v2-0001",
	"2.16.840.1.113883.12.4":          "http://terminology.hl7.org/CodeSystem/v2-0004",
	"2.16.840.1.113883.12.112":        "http://terminology.hl7.org/CodeSystem/v2-0112",
	"2.16.840.1.113883.12.443":        "http://terminology.hl7.org/CodeSystem/v2-0443",
	"2.16.840.1.113883.12.162":        "http://terminology.hl7.org/CodeSystem/v2-0162",
	"2.16.840.1.113883.12.163":        "http://terminology.hl7.org/CodeSystem/v2-0163",
	"2.16.840.1.113883.6.259":         "https://www.cdc.gov/nhsn/cdaportal/terminology/codesystem/hsloc.html",
	"2.16.840.1.113883.3.88.12.80.17": "urn:oid:2.16.840.1.113883.3.88.12.80.17",
	"2.16.840.1.113883.11.20.9.21":    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	"2.16.840.1.113883.4.642.3.1":     "http://hl7.org/fhir/allergy-intolerance-category",
	"2.16.840.1.113883.4.642.3.130":   "http://hl7.org/fhir/allergy-intolerance-criticality",
	"2.16.840.1.113883.4.642.3.1373":  "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
	"2.16.840.1.113883.4.642.3.1375":  "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
	"2.16.840.1.113883.4.642.3.155":   "http://terminology.hl7.org/CodeSystem/condition-clinical",
	"2.16.840.1.113883.4.642.3.156":   "http://terminology.hl7.org/CodeSystem/condition-ver-status",
	"2.16.840.1.113883.4.642.3.153":   "http://terminology.hl7.org/CodeSystem/condition-category",
	"2.16.840.1.113883.4.642.3.1372":  "http://terminology.hl7.org/CodeSystem/condition-category",
}

// identifierSystems maps identifier OIDs (not code systems) to URIs.
var identifierSystems = map[string]string{
	"2.16.840.1.113883.4.1": "http://hl7.org/fhir/sid/us-ssn",
	"2.16.840.1.113883.4.6": "http://hl7.org/fhir/sid/us-npi",
	"2.16.840.1.113883.4.2": "urn:oid:2.16.840.1.113883.4.2",
}

const (
	oidSSN   = "2.16.840.1.113883.4.1"
	oidNPI   = "2.16.840.1.113883.4.6"
	sysLOINC = "http://loinc.org"
	sysSCT   = "http://snomed.info/sct"
	sysUCUM  = "http://unitsofmeasure.org"
	sysRFC   = "urn:ietf:rfc:3986"
)

// isOID reports whether s looks like an ISO OID (digits and dots).
func isOID(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
		if c == '.' && s[i-1] == '.' {
			return false
		}
	}
	return true
}

// isUUID reports whether s is a UUID in the 8-4-4-4-12 form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// systemURI turns a code system OID into its canonical URI.
func systemURI(oid string) string {
	oid = strings.TrimSpace(oid)
	if oid == "" {
		return ""
	}
	if u, ok := codeSystems[oid]; ok {
		return u
	}
	return rootURI(oid)
}

// rootURI writes an II root as a URI: urn:oid:, urn:uuid: (lowercase), or
// the root itself when it already is a URI.
func rootURI(root string) string {
	root = bareRoot(root)
	switch {
	case isOID(root):
		return "urn:oid:" + root
	case isUUID(root):
		return "urn:uuid:" + strings.ToLower(root)
	case hasScheme(root):
		return uriSafe(root)
	}
	return "urn:id:" + uriSafe(root)
}

// bareRoot is root without the "urn:oid:" or "urn:uuid:" (in any case)
// a sender wrote before the OID or UUID an II root is (CDA R2: a root is
// an OID or a UUID): the OID it names is the authority a bare root, and
// the HL7 v2 converter, give the system "urn:oid:<OID>", in lower case.
func bareRoot(root string) string {
	if p := len("urn:oid:"); len(root) > p && strings.EqualFold(root[:p], "urn:oid:") && isOID(root[p:]) {
		return root[p:]
	}
	if p := len("urn:uuid:"); len(root) > p && strings.EqualFold(root[:p], "urn:uuid:") && isUUID(root[p:]) {
		return root[p:]
	}
	return root
}

// hasScheme reports whether s starts with a URI scheme ("urn:", "http:").
func hasScheme(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 1 {
		return false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// uriSafe percent-encodes whitespace and control bytes, which a FHIR uri
// may not contain.
func uriSafe(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f || s[i] == '%' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch <= ' ' || ch == 0x7f || ch == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// token normalises a FHIR code: no leading, trailing or repeated
// whitespace.
func token(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\n' || c == '\r' || (c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ')) {
			return strings.Join(strings.Fields(s), " ")
		}
	}
	return s
}

// identifier maps an II to a FHIR Identifier: root+extension gives
// system=root value=extension; a root alone is itself the value
// (system urn:ietf:rfc:3986). ok is false for nullFlavor or empty ids:
// an id with a nullFlavor is a null value, whatever its root and
// extension hold (exports write a placeholder there, extension="UNK"),
// and as an identifier it would make everyone who carries it one.
func identifier(id ii) (fhir.Identifier, bool) {
	root := bareRoot(strings.TrimSpace(id.Root))
	ext := strings.TrimSpace(id.Extension)
	if root == "" || strings.TrimSpace(id.NullFlavor) != "" {
		return fhir.Identifier{}, false
	}
	if ext == "" {
		return fhir.Identifier{System: sysRFC, Value: rootURI(root)}, true
	}
	sys, ok := identifierSystems[root]
	if !ok {
		sys = rootURI(root)
	}
	return fhir.Identifier{System: sys, Value: ext}, true
}

// countIDChecks, set by a test, is called for each duplicate check
// identifiers makes, so a test can bound its work without timing it.
var countIDChecks func()

// identifiers maps a list of II, dropping nullFlavors and duplicates.
// The ids kept are a set: an element may carry any number of ids, and
// comparing each with all those before it grew with their square.
func identifiers(ids []ii) []fhir.Identifier {
	var out []fhir.Identifier
	type key struct{ system, value string }
	var kept map[key]bool
	for _, id := range ids {
		if x, ok := identifier(id); ok {
			if countIDChecks != nil {
				countIDChecks()
			}
			k := key{x.System, x.Value}
			if kept[k] {
				continue
			}
			if kept == nil {
				kept = map[key]bool{}
			}
			kept[k] = true
			out = append(out, x)
		}
	}
	return out
}

// coding maps one CD to a Coding; ok is false without a code.
func coding(c *cd) (fhir.Coding, bool) {
	if c == nil || strings.TrimSpace(c.Code) == "" || (c.NullFlavor != "" && c.Code == "") {
		return fhir.Coding{}, false
	}
	sys := c.CodeSystem
	if sys == "" && c.CodeSystemName != "" {
		sys = codeSystemNames[strings.ToLower(strings.TrimSpace(c.CodeSystemName))]
	}
	return fhir.Coding{System: systemURI(sys), Code: token(c.Code), Display: clean(c.DisplayName)}, true
}

// concept maps a CD with its translations to a CodeableConcept. A
// nullFlavor code with original text keeps the text; nil when nothing is
// left.
func concept(c *cd) *fhir.CodeableConcept {
	if c == nil {
		return nil
	}
	var cc fhir.CodeableConcept
	if x, ok := coding(c); ok {
		cc.Coding = append(cc.Coding, x)
	}
	for i := range c.Translation {
		if x, ok := coding(&c.Translation[i]); ok {
			cc.Coding = append(cc.Coding, x)
		}
	}
	if c.OriginalText != nil {
		cc.Text = clean(c.OriginalText.Text)
	}
	if cc.Text == "" && len(cc.Coding) == 0 && c.DisplayName != "" {
		cc.Text = clean(c.DisplayName)
	}
	if len(cc.Coding) == 0 && cc.Text == "" {
		return nil
	}
	return &cc
}

// concepts maps a list of CD, dropping empty ones.
func concepts(cs []cd) []fhir.CodeableConcept {
	var out []fhir.CodeableConcept
	for i := range cs {
		if c := concept(&cs[i]); c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// simpleConcept builds a one-coding CodeableConcept.
func simpleConcept(system, code, display string) *fhir.CodeableConcept {
	return &fhir.CodeableConcept{Coding: []fhir.Coding{{System: system, Code: code, Display: display}}}
}

// hasCode reports whether c (or a translation) is system|code.
func hasCode(c *cd, oid, code string) bool {
	if c == nil {
		return false
	}
	if c.CodeSystem == oid && c.Code == code {
		return true
	}
	for i := range c.Translation {
		if c.Translation[i].CodeSystem == oid && c.Translation[i].Code == code {
			return true
		}
	}
	return false
}

// clean collapses whitespace runs (CDA text often carries indentation).
func clean(s string) string {
	if s == "" {
		return ""
	}
	// Fast path: nothing to collapse.
	simple := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' || c == '\r' || c == '\t' || (c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ')) {
			simple = false
			break
		}
	}
	if simple {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// hasTemplate reports whether any templateId has the given root.
func hasTemplate(ids []ii, root string) bool {
	for _, t := range ids {
		if t.Root == root {
			return true
		}
	}
	return false
}

// Template roots (C-CDA R2.1; R1.1 shares the roots).
const (
	tplUSRealmHeader       = "2.16.840.1.113883.10.20.22.1.1"
	tplAllergyConcern      = "2.16.840.1.113883.10.20.22.4.30"
	tplAllergyObs          = "2.16.840.1.113883.10.20.22.4.7"
	tplReaction            = "2.16.840.1.113883.10.20.22.4.9"
	tplSeverity            = "2.16.840.1.113883.10.20.22.4.8"
	tplCriticality         = "2.16.840.1.113883.10.20.22.4.145"
	tplAllergyStatus       = "2.16.840.1.113883.10.20.22.4.28"
	tplProblemConcern      = "2.16.840.1.113883.10.20.22.4.3"
	tplProblemObs          = "2.16.840.1.113883.10.20.22.4.4"
	tplProblemStatus       = "2.16.840.1.113883.10.20.22.4.6"
	tplHealthStatus        = "2.16.840.1.113883.10.20.22.4.5"
	tplPrognosis           = "2.16.840.1.113883.10.20.22.4.113"
	tplPriorityPref        = "2.16.840.1.113883.10.20.22.4.143"
	tplHealthConcern       = "2.16.840.1.113883.10.20.22.4.132"
	tplMedActivity         = "2.16.840.1.113883.10.20.22.4.16"
	tplPlannedMed          = "2.16.840.1.113883.10.20.22.4.42"
	tplDischargeMed        = "2.16.840.1.113883.10.20.22.4.35"
	tplAdmissionMed        = "2.16.840.1.113883.10.20.22.4.36"
	tplIndication          = "2.16.840.1.113883.10.20.22.4.19"
	tplInstruction         = "2.16.840.1.113883.10.20.22.4.20"
	tplMedSupplyOrder      = "2.16.840.1.113883.10.20.22.4.17"
	tplImmunization        = "2.16.840.1.113883.10.20.22.4.52"
	tplImmRefusal          = "2.16.840.1.113883.10.20.22.4.53"
	tplResultOrganizer     = "2.16.840.1.113883.10.20.22.4.1"
	tplResultObs           = "2.16.840.1.113883.10.20.22.4.2"
	tplVitalOrganizer      = "2.16.840.1.113883.10.20.22.4.26"
	tplVitalObs            = "2.16.840.1.113883.10.20.22.4.27"
	tplSocialObs           = "2.16.840.1.113883.10.20.22.4.38"
	tplSmokingStatus       = "2.16.840.1.113883.10.20.22.4.78"
	tplTobaccoUse          = "2.16.840.1.113883.10.20.22.4.85"
	tplBirthSex            = "2.16.840.1.113883.10.20.22.4.200"
	tplPregnancy           = "2.16.840.1.113883.10.20.15.3.8"
	tplProcedureAct        = "2.16.840.1.113883.10.20.22.4.12"
	tplProcedureObs        = "2.16.840.1.113883.10.20.22.4.13"
	tplProcedureProc       = "2.16.840.1.113883.10.20.22.4.14"
	tplEncounterActivity   = "2.16.840.1.113883.10.20.22.4.49"
	tplEncounterDiagnosis  = "2.16.840.1.113883.10.20.22.4.80"
	tplHospitalDischargeDx = "2.16.840.1.113883.10.20.22.4.33"
	tplAdmissionDx         = "2.16.840.1.113883.10.20.22.4.34"
	tplPreopDx             = "2.16.840.1.113883.10.20.22.4.65"
	tplPostopDx            = "2.16.840.1.113883.10.20.22.4.51"
	tplFamilyHistoryOrg    = "2.16.840.1.113883.10.20.22.4.45"
)
