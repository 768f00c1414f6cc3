package csvfhir

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// Mapping says how the rows of one kind of CSV file become FHIR resources:
// which files it applies to (Match), what each row is (Resource), which
// column identifies the patient, and which column goes to which element
// (Columns). It is the sources.folders[].csv[] entry of the ferry
// configuration; its yaml names are those of the file.
type Mapping struct {
	// Match is a glob (path.Match syntax: * ? [a-z]) on the file's name,
	// without its folder: "patients*.csv". Inside a ZIP archive it is
	// matched on the entry's base name. Letter case is ignored, since
	// exports are named by whoever runs them, often on Windows.
	Match string `yaml:"match"`
	// Resource is what one row becomes: Patient, Observation, Condition,
	// AllergyIntolerance, Immunization, Encounter, Procedure or
	// MedicationRequest (an entry of the medication list).
	Resource string `yaml:"resource"`
	// Delimiter separates fields: one of , ; | or "tab". Empty: sniffed
	// from the header line among those four.
	Delimiter string `yaml:"delimiter"`
	// Encoding of the file: utf-8, utf-16, windows-1252 or iso-8859-1,
	// for a file without a byte-order mark (a UTF-8 or UTF-16 one decides
	// in any case). Empty: UTF-8 when the bytes are valid UTF-8, else
	// Windows-1252, which is what Windows programs write when they say
	// "ANSI".
	Encoding string `yaml:"encoding"`
	// DateFormats lists the layouts dates and times are written in, tried
	// in order, with the tokens YYYY MM M DD D HH H hh mm ss A Z (see
	// ParseLayout). Empty: ISO 8601 forms only (DefaultDateFormats), since
	// 03/04/2024 means a different day in the US and in Europe.
	DateFormats []string `yaml:"date_formats"`
	// DecimalSeparator is "." (the default) or ",": numbers written
	// 5,4, as spreadsheets in much of Europe write them (their files
	// are usually ';'-delimited). With ",", a '.' in a number is an
	// error; with ".", a ',' is (5,4, and a thousands separator, 10,500).
	DecimalSeparator string `yaml:"decimal_separator"`
	// TimeZone is the IANA zone of times written without an offset
	// (empty: the gateway's local zone).
	TimeZone string `yaml:"time_zone"`
	// Identifier is the business identifier of what a row describes: for
	// a Patient its chart number (required); for the other resources the
	// export's own id of the row (a result id), when it has one, with a
	// system of its own (required: two files' ids under one system would
	// overwrite each other). It must be unique per row: rows of one
	// patient with the same id and a different code or time (an
	// accession number shared by a panel's results) refuse the file.
	// Without it, a row is identified by its
	// content (see the package doc); an Encounter requires it, since a
	// visit's row changes once the visit ends.
	Identifier *ColumnIdentifier `yaml:"identifier"`
	// Patient names the column holding the patient's identifier and its
	// system, for every resource but Patient (required there).
	Patient *ColumnIdentifier `yaml:"patient"`
	// Columns maps column headers to element paths, in the file's terms:
	// LastName: name.family, or with options
	// Sex: {path: gender, map: {M: male, F: female}}.
	Columns Columns `yaml:"columns"`
	// Set gives paths a fixed value for every row: {category: laboratory,
	// code.system: LOINC}. A column mapped to the same path wins where
	// the row has a value.
	Set map[string]string `yaml:"set"`
	// Security lists security labels every resource from these files
	// carries (STANDARDS.md §7): a v3-Confidentiality code (R, V ...)
	// and v3-ActCode sensitivity or policy codes (PSY, SUD, HIV,
	// 42CFRPart2 ...). Sensitivity codes without a confidentiality code
	// imply R, as on the HL7 v2 path.
	Security []string `yaml:"security"`
}

// ColumnIdentifier is an identifier read from a column: its value is the
// cell, its system is fixed.
type ColumnIdentifier struct {
	// Column is the header of the column holding the value.
	Column string `yaml:"column"`
	// System is the identifier's namespace, a URI: the chart numbers'
	// urn:oid:..., as the other paths into the exchange name them.
	System string `yaml:"system"`
}

// Column is what one column of the file maps to.
type Column struct {
	// Header is the column's header, as in the file (surrounding spaces
	// are ignored).
	Header string
	// Path is the element the value goes to (see Paths).
	Path string
	// Map translates the file's values before they are read: {M: male}.
	// With a map, a value that is not in it is an error, so a new code in
	// the export is noticed instead of sent unmapped; a value mapped to
	// "" is left out. Keys match exactly, else ignoring letter case.
	Map map[string]string
	// Required makes an empty cell an error.
	Required bool
	// line is where the column is in the configuration, for messages.
	line int
}

// Columns is the ordered list of a mapping's columns. In YAML it is a
// mapping from header to path (a string) or to {path, map, required};
// order is kept, so columns mapped to a repeating element (two columns
// to name.given) fill it in the order written.
type Columns []Column

// UnmarshalYAML reads columns from a YAML mapping, refusing unknown
// option keys as the rest of the configuration does.
func (cs *Columns) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: columns must map column headers to paths", n.Line)}}
	}
	var errs []string
	out := make(Columns, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		c := Column{Header: strings.TrimSpace(k.Value), line: k.Line}
		switch v.Kind {
		case yaml.ScalarNode:
			c.Path = strings.TrimSpace(v.Value)
		case yaml.MappingNode:
			for j := 0; j+1 < len(v.Content); j += 2 {
				switch key := v.Content[j].Value; key {
				case "path", "map", "required":
				default:
					errs = append(errs, fmt.Sprintf("line %d: field %s not found in type csvfhir.Column", v.Content[j].Line, key))
				}
			}
			var opts struct {
				Path     string            `yaml:"path"`
				Map      map[string]string `yaml:"map"`
				Required bool              `yaml:"required"`
			}
			if err := v.Decode(&opts); err != nil {
				if te, ok := err.(*yaml.TypeError); ok {
					errs = append(errs, te.Errors...)
					continue
				}
				return err
			}
			c.Path, c.Map, c.Required = strings.TrimSpace(opts.Path), opts.Map, opts.Required
		default:
			errs = append(errs, fmt.Sprintf("line %d: column %q must map to a path or to {path, map, required}", v.Line, k.Value))
			continue
		}
		out = append(out, c)
	}
	*cs = out
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// Problem is one thing wrong with a Mapping: Path is the field inside the
// mapping ("columns.LastName", "patient.system"), Msg what is wrong.
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Resources lists the resource types a row can become.
var Resources = []string{"Patient", "Observation", "Condition", "AllergyIntolerance", "Immunization", "Encounter", "Procedure", "MedicationRequest"}

// Encodings lists the values Mapping.Encoding takes.
var Encodings = []string{"utf-8", "utf-16", "windows-1252", "iso-8859-1"}

// Validate checks the mapping without reading any file. Each problem
// names its field within the mapping.
func (m *Mapping) Validate() []Problem {
	var ps []Problem
	add := func(p, format string, args ...any) { ps = append(ps, Problem{p, fmt.Sprintf(format, args...)}) }
	if strings.TrimSpace(m.Match) == "" {
		add("match", "must name the files, e.g. \"patients*.csv\"")
	} else if _, err := path.Match(m.Match, ""); err != nil {
		add("match", "not a valid glob: %v", err)
	} else if strings.ContainsAny(m.Match, `/\`) {
		add("match", "is matched on the file's name alone; leave out folders")
	}
	spec, known := paths[m.Resource]
	if !known {
		add("resource", "must be one of %s; got %q", strings.Join(Resources, ", "), m.Resource)
	}
	if m.Delimiter != "" {
		if _, ok := delimiterRune(m.Delimiter); !ok {
			add("delimiter", "must be one of \",\" \";\" \"|\" or \"tab\"; got %q", m.Delimiter)
		}
	}
	if m.Encoding != "" && !slices.Contains(Encodings, strings.ToLower(m.Encoding)) {
		add("encoding", "must be one of %s; got %q", strings.Join(Encodings, ", "), m.Encoding)
	}
	if m.DecimalSeparator != "" && m.DecimalSeparator != "." && m.DecimalSeparator != "," {
		add("decimal_separator", "must be \".\" or \",\"; got %q", m.DecimalSeparator)
	}
	for i, f := range m.DateFormats {
		if _, err := ParseLayout(f); err != nil {
			add(fmt.Sprintf("date_formats[%d]", i), "%v", err)
		}
	}
	if m.TimeZone != "" {
		if _, err := time.LoadLocation(m.TimeZone); err != nil {
			add("time_zone", "%v", err)
		}
	}
	checkIdent := func(field string, id *ColumnIdentifier, rowID bool) {
		if strings.TrimSpace(id.Column) == "" {
			add(field+".column", "must name the column holding the identifier")
		}
		switch s := strings.TrimSpace(id.System); {
		case s == "" && rowID:
			// A default shared by every mapping would let the result ids
			// of one file overwrite the vital-sign ids of another.
			add(field+".system", "must be the system of the export's row ids, a URI of its own for this kind of row (e.g. urn:oid:<the EHR's OID>.4.7 for its result ids): ids of different files under one system overwrite each other")
		case s == "":
			add(field+".system", "must be the identifier's system, a URI such as urn:oid:2.16.840.1.113883.3.1234 (the one the exchange knows these numbers by)")
		case isBareOID(s):
			add(field+".system", "%q is an OID; write it as urn:oid:%s", s, s)
		case !strings.Contains(s, ":") || strings.ContainsAny(s, " \t|"):
			add(field+".system", "must be an absolute URI (urn:oid:..., https://...) without spaces or '|'; got %q", s)
		}
	}
	if m.Resource == "Patient" {
		if m.Identifier == nil {
			add("identifier", "a Patient needs its identifier: {column: <chart number column>, system: <its URI>}")
		} else {
			checkIdent("identifier", m.Identifier, false)
		}
		if m.Patient != nil {
			add("patient", "is for the other resources; a Patient row is identified by identifier")
		}
	} else if known {
		if m.Patient == nil {
			add("patient", "a %s row needs its patient: {column: <chart number column>, system: <its URI>}", m.Resource)
		} else {
			checkIdent("patient", m.Patient, false)
		}
		if m.Identifier != nil {
			checkIdent("identifier", m.Identifier, true)
			if m.Patient != nil && strings.EqualFold(strings.TrimSpace(m.Identifier.Column), strings.TrimSpace(m.Patient.Column)) {
				// Every row of a patient would carry one id, and be taken
				// for one row repeated: all but the last would be dropped.
				add("identifier.column", "names the patient's column (%s); identifier is the export's own id of each row (a result or visit id), patient the chart number", strings.TrimSpace(m.Patient.Column))
			}
		} else if m.Resource == "Encounter" {
			// A visit changes after it is first exported (it ends, is
			// cancelled, gets a reason): only the export's own id lets
			// the later row update the resource the earlier one made.
			add("identifier", "an Encounter needs the export's encounter id: {column: <its column>, system: <a URI of its own>}; without it a changed visit could not update the one sent before")
		}
	}
	for _, c := range m.Security {
		if !fhir.KnownSecurityCode(c) {
			add("security", "%q is not a v3-Confidentiality or v3-ActCode security code", c)
		}
	}
	if confs := countConfidentiality(m.Security); confs > 1 {
		add("security", "give at most one confidentiality code (U, L, M, N, R, V); got %d", confs)
	}
	if !known {
		return ps
	}
	headers := map[string]bool{}
	mapped := map[string]string{} // path → the column (or set) that fills it
	for _, c := range m.Columns {
		field := "columns." + c.Header
		if c.Header == "" {
			add("columns", "a column header is empty")
			continue
		}
		if headers[strings.ToLower(c.Header)] {
			add(field, "is mapped twice")
			continue
		}
		headers[strings.ToLower(c.Header)] = true
		ps2 := spec[c.Path]
		if ps2 == nil {
			add(field, "unknown path %q for %s; known paths: %s", c.Path, m.Resource, strings.Join(pathNames(m.Resource), ", "))
			continue
		}
		if prev, ok := mapped[c.Path]; ok && !ps2.multi {
			add(field, "path %s is already filled by %s", c.Path, prev)
			continue
		}
		mapped[c.Path] = field
		for k, v := range c.Map {
			if v == "" {
				continue
			}
			if _, err := ps2.parse(v, nil); err != nil {
				add(field+".map."+k, "%s", strings.TrimSuffix(err.Error(), " "+mapHint))
			}
		}
	}
	keys := make([]string, 0, len(m.Set))
	for k := range m.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ps2 := spec[k]
		if ps2 == nil {
			add("set."+k, "unknown path %q for %s; known paths: %s", k, m.Resource, strings.Join(pathNames(m.Resource), ", "))
			continue
		}
		if _, err := ps2.parse(m.Set[k], nil); err != nil {
			add("set."+k, "%v", err)
		}
		if _, ok := mapped[k]; !ok {
			mapped[k] = "set." + k
		}
	}
	for _, need := range required[m.Resource] {
		if !anyMapped(mapped, need) {
			add("columns", "%s needs %s: map a column to it", article(m.Resource), strings.Join(need, " or "))
		}
	}
	if m.Resource == "Observation" {
		n := 0
		for _, p := range []string{"value", "valueQuantity.value", "valueString"} {
			if _, ok := mapped[p]; ok {
				n++
			}
		}
		if n > 1 {
			add("columns", "map one of value, valueQuantity.value and valueString: an Observation has one value")
		}
		if _, ok := mapped["category"]; !ok {
			// Every US Core Observation profile fixes a category
			// (laboratory for results, vital-signs ...): without one a
			// validating exchange refuses the rows.
			add("set.category", "US Core Observations need a category: set: {category: laboratory} (or vital-signs, social-history ...), or map a column to category")
		}
	}
	if m.Resource == "Condition" || m.Resource == "AllergyIntolerance" {
		if _, ok := mapped["code"]; ok {
			if _, ok := mapped["code.system"]; !ok {
				add("set.code.system", "%s codes come from several code systems (SNOMED, ICD10CM, RXNORM ...): say which with set: {code.system: ...} or a column", m.Resource)
			}
		}
	}
	if m.Resource == "Procedure" {
		_, point := mapped["performedDateTime"]
		_, start := mapped["performedPeriod.start"]
		_, end := mapped["performedPeriod.end"]
		if point && (start || end) {
			add("columns", "map performedDateTime or performedPeriod.start and .end, not both: a Procedure has one performed[x]")
		}
	}
	if m.Resource == "MedicationRequest" {
		_, requester := mapped["requester.display"]
		_, reported := mapped["reportedBoolean"]
		intent, byColumn := m.Set["intent"], strings.HasPrefix(mapped["intent"], "columns.")
		if !requester && !reported && !byColumn && (intent == "" || strings.EqualFold(strings.TrimSpace(intent), "order")) {
			// Every row would be an order without its prescriber.
			add("columns", "a MedicationRequest is an order unless it says otherwise, and US Core (us-core-21) wants an order's prescriber: map a column to requester.display, mark patient-reported rows with reportedBoolean, or set: {intent: plan} for a list of what the patient takes")
		}
	}
	for _, cp := range codedPaths[m.Resource] {
		if _, ok := mapped[cp[0]]; ok {
			if _, ok := mapped[cp[1]]; !ok {
				what := m.Resource + " " + cp[0]
				if cp[0] == "code" {
					what = m.Resource
				}
				add("set."+cp[1], "%s codes come from several code systems (SNOMED, CPT, ICD10CM ...): say which with set: {%s: ...} or a column", what, cp[1])
			}
		}
	}
	return ps
}

// article puts "a" or "an" before a resource type's name.
func article(resource string) string {
	if strings.ContainsRune("AEIOU", rune(resource[0])) {
		return "an " + resource
	}
	return "a " + resource
}

func anyMapped(mapped map[string]string, alts []string) bool {
	for _, a := range alts {
		if _, ok := mapped[a]; ok {
			return true
		}
	}
	return false
}

func isBareOID(s string) bool {
	if s == "" || s[0] < '0' || s[0] > '2' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return strings.Contains(s, ".")
}

// Match returns the index of the first mapping whose Match fits name (a
// file or archive entry name; only its base name counts), or -1.
func Match(ms []Mapping, name string) int {
	base := strings.ToLower(path.Base(strings.ReplaceAll(name, `\`, "/")))
	for i := range ms {
		if ok, _ := path.Match(strings.ToLower(ms[i].Match), base); ok {
			return i
		}
	}
	return -1
}

// delimiterRune reads Mapping.Delimiter.
func delimiterRune(s string) (rune, bool) {
	switch strings.ToLower(s) {
	case ",":
		return ',', true
	case ";":
		return ';', true
	case "|":
		return '|', true
	case "tab", "\t", `\t`:
		return '\t', true
	}
	return 0, false
}
