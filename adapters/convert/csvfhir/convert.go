// Package csvfhir converts the CSV files of EHR exports (ONC (b)(10) EHI
// exports, report extracts) to FHIR R4 transaction Bundles. No CSV layout
// is standard, so each kind of file is read by a Mapping from the
// folder's configuration: which column is the patient's identifier, and
// which column goes to which element of a Patient, Observation,
// Condition, AllergyIntolerance, Immunization, Encounter, Procedure or
// MedicationRequest. Resources
// follow US Core 6.1 (the version HTI-1 names).
//
// Conversion is all or nothing: a file with a row that cannot be mapped
// (a date in no configured format, a code the column's map lacks, an
// empty required cell) yields an *Error listing the bad rows by line and
// column, and no bundle. Sending the good rows alone would leave the
// exchange with part of an export and the clinic with a file to pick
// apart by hand; fixed and dropped again, the whole file goes, and the
// rows that had gone before are not duplicated.
//
// Re-sending is harmless (ARCHITECTURE.md invariant 3), however often a
// file or a later export with the same rows arrives:
//   - a Patient is written by conditional update on its identifier
//     (PUT Patient?identifier=<system>|<value>), as the HL7 v2 and C-CDA
//     paths write it in the gateway's default mode, so the patient lands
//     on the exchange's one record of that chart number (or by
//     conditional create, Options.PatientCreateOnly);
//   - another row carries a deterministic identifier: the export's own id
//     of the row when the mapping names its column (Mapping.Identifier),
//     else one derived from what the row says (its code, time and value;
//     see keyPaths) under <base>:csv:<type>-key. Its resource id is the
//     UUIDv5 of that identifier scoped to the patient, and it is written
//     with PUT Type/<id> (or, in ModeConditional, PUT Type?identifier=),
//     so the same row lands on the same resource;
//   - its patient is named by identifier through a conditional create
//     in the same transaction (POST Patient, ifNoneExist identifier=...),
//     which finds the exchange's record and creates a bare one (the
//     identifier alone) only when the exchange has none yet; the rows
//     refer to it by its urn:uuid fullUrl. In ModeIDs the rows refer to
//     Patient/<id>, the id this package's Patient rows are written
//     under, and the patients file must go first.
//
// Rows are grouped per patient, in the order each patient first appears,
// and each group is cut into transactions of at most MaxEntries entries
// (each repeating the patient entry), all keyed to the patient so they
// are delivered in order after whatever else ferry sent about them.
package csvfhir

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	ucumcheck "github.com/ferry-health/ferry/adapters/convert/internal/ucum"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue/merges"
)

// Mode selects how entries are written at the exchange; the gateway
// follows hl7v2.writes.
type Mode int

const (
	// ModePatientConditional writes the Patient by conditional update
	// (a Patient row) or conditional create (the patient of another row),
	// referred to by urn:uuid, and every other resource as PUT
	// Type/<deterministic id>. The default, as for HL7 v2.
	ModePatientConditional Mode = iota
	// ModeIDs writes every resource as PUT Type/<deterministic id> and
	// refers to the patient as Patient/<id>; rows other than Patient
	// rows do not write their patient.
	ModeIDs
	// ModeConditional writes every resource by conditional update on its
	// identifier (PUT Type?identifier=...), for exchanges that refuse
	// client-assigned ids.
	ModeConditional
)

// Options tunes a conversion. The zero value is ready to use.
type Options struct {
	// Base prefixes the identifier systems minted for rows without an id
	// column, as for the other converters (default "urn:ferry"); the
	// gateway passes config.IdentifierBase, so two sites' rows never
	// share an identifier.
	Base string
	// Mode selects how entries are written.
	Mode Mode
	// MaxEntries caps the entries of one transaction (0: 8 in the
	// conditional modes, fhir.MaxConditionalEntries, and 50 in ModeIDs).
	MaxEntries int
	// PatientCreateOnly writes Patient rows as conditional creates
	// (POST, ifNoneExist identifier=...) in the conditional modes: the
	// exchange's record, kept by the site's ADT feed, is left as it is,
	// since a conditional update replaces the whole resource and a CSV's
	// few columns would blank the rest (hl7v2.patient_from_adt_only).
	PatientCreateOnly bool
	// LogPHI lets row errors quote the offending cell; by default they
	// name only the line and the column, since a cell may be PHI.
	LogPHI bool
	// Merges, when set, names the patient identifiers earlier merges
	// (HL7 v2 ADT^A40, A47) retired (the gateway's data_dir/merges.log).
	// A row whose patient column holds one is the survivor's row, as if
	// the export named that record: keyed, ordered and referring to the
	// survivor. A Patient row under a retired identifier never writes
	// the retired record (a PUT would make it active again and drop its
	// replaced-by link) nor the survivor's demographics: in the
	// conditional modes it only finds the survivor (a conditional create
	// with the row's name, gender and birth date, written only if the
	// exchange has no such patient), in ModeIDs it writes nothing, as
	// the HL7 v2 converter does. Nil (`ferry convert`): the column is
	// taken as it is.
	Merges v2fhir.MergeLookup
}

// Part is one transaction to deliver.
type Part struct {
	Bundle *fhir.Bundle
	// PatientKey is fhir.PatientKey of the patient's identifier: the
	// same key the other converters give that chart number.
	PatientKey string
	// PatientIdentifier is the identifier PatientKey hashes (System and
	// Value only): PHI, for the audit trail. Never log it.
	PatientIdentifier fhir.Identifier
	// Patient numbers the patient among the file's, from 1, and Line is
	// the line of that patient's first row: PHI-free names for the part.
	Patient, Line int
	// Index and Of number the patient's parts, from 1.
	Index, Of int
	// Rows counts the rows in the part.
	Rows int
	// Labels are the security labels in the bundle (Mapping.Security).
	Labels []fhir.Coding
	// Retied is 1 on the first part of a patient some of whose rows
	// named an identifier a merge retired (Options.Merges), else 0.
	Retied int
}

// RowError is one row that cannot be mapped.
type RowError struct {
	Line   int    // 1-based line of the file where the row starts
	Column string // the column's header; empty when the row as a whole is wrong
	Msg    string // what is wrong, without the cell's value
	Value  string // the cell, only with Options.LogPHI
}

func (e RowError) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d", e.Line)
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %q", e.Column)
	}
	b.WriteString(": ")
	if e.Value != "" {
		fmt.Fprintf(&b, "%q: ", e.Value)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MaxListed bounds the bad rows an Error lists.
const MaxListed = 50

// Error reports the rows of a file that cannot be mapped. Nothing from
// the file was converted.
type Error struct {
	Rows  []RowError // the bad rows (all of them; Error lists MaxListed)
	Total int        // the file's data rows
}

func (e *Error) Error() string {
	var b strings.Builder
	bad := map[int]bool{}
	for _, r := range e.Rows {
		bad[r.Line] = true
	}
	fmt.Fprintf(&b, "%d of %d rows cannot be mapped, so nothing from the file is sent (fix them and drop the whole file again; rows already sent are not duplicated):", len(bad), e.Total)
	for i, r := range e.Rows {
		if i == MaxListed {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Rows)-MaxListed)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(r.String())
	}
	return b.String()
}

// ErrMapping wraps the error for a mapping that does not validate.
var ErrMapping = errors.New("invalid csv mapping")

// namespace is the UUIDv5 namespace of ferry's CSV conversion.
var namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://ferry-health.github.io/csvfhir"))

// Code systems written by the converter.
const (
	sysV20203        = "http://terminology.hl7.org/CodeSystem/v2-0203"
	sysUCUM          = "http://unitsofmeasure.org"
	sysLOINC         = "http://loinc.org"
	sysObsCategory   = "http://terminology.hl7.org/CodeSystem/observation-category"
	sysInterpret     = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	sysAbsent        = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
	urlDataAbsent    = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
	sysCondClinical  = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	sysCondVer       = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	sysCondCategory  = "http://terminology.hl7.org/CodeSystem/condition-category"
	sysUSCoreCondCat = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
	sysAllergyClin   = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	sysAllergyVer    = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	sysBCP47         = "urn:ietf:bcp:47"
)

// defaultSystems are the code systems of a row's code when the mapping
// does not say: LOINC for results, CVX for vaccines, RxNorm for
// medications (US Core's binding).
var defaultSystems = map[string]string{
	"Observation":       "http://loinc.org",
	"Immunization":      "http://hl7.org/fhir/sid/cvx",
	"MedicationRequest": "http://www.nlm.nih.gov/research/umls/rxnorm",
}

// keyPaths are the paths whose values identify a row that has no id
// column: what was observed, when, and what the result was. Notes,
// statuses and displays are left out, so a later export that adds a note
// or finalises a status updates the same resource.
var keyPaths = map[string][]string{
	"Observation":        {"code.system", "code", "code.text", "effectiveDateTime", "value", "valueQuantity.value", "valueString", "valueQuantity.unit", "valueQuantity.ucum"},
	"Condition":          {"code.system", "code", "code.text", "onsetDateTime"},
	"AllergyIntolerance": {"code.system", "code", "code.text"},
	"Immunization":       {"vaccineCode.system", "vaccineCode", "vaccineCode.text", "occurrenceDateTime"},
	"Procedure":          {"code.system", "code", "code.text", "performedDateTime", "performedPeriod.start"},
	// A medication list entry is the medication and when it was ordered:
	// a changed dose or status updates it, a new order is another.
	"MedicationRequest": {"medication.system", "medication", "medication.text", "authoredOn"},
}

// compiled is a validated mapping with its file's header resolved.
type compiled struct {
	m     *Mapping
	spec  map[string]*pathSpec
	dates *cellReader
	cols  []int // index in the header of each of m.Columns
	pidx  int   // the patient (or, for Patient, identifier) column
	idx   int   // the row id column, -1 without
	opts  Options
}

// Convert reads a whole CSV file (b) with mapping m. It returns the
// transactions to deliver, in order, or an *Error listing the rows that
// cannot be mapped, or another error for a file that cannot be read at
// all (a column of the mapping missing from the header, a broken quote).
// It holds every transaction in memory; ConvertEach hands them over one
// at a time.
func Convert(b []byte, m *Mapping, opts Options) ([]Part, error) {
	var out []Part
	err := ConvertEach(b, m, opts, func(p Part) error {
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConvertEach is Convert handing each transaction to emit as soon as it is
// built, so that a large export is never held converted in memory as a
// whole. Every row is checked before the first emit: a file with a row
// that cannot be mapped emits nothing (all or nothing). The rows of one
// patient are converted together; between patients only each row's place
// in the file (16 bytes a row) is kept, and with a row id column each
// id's first row (what it describes and, with writes conditional, its
// patient, hashed, and its line: about 60 bytes), and a row is read a
// second time when its patient's transactions are built. An error from
// emit stops the conversion and is returned.
func ConvertEach(b []byte, m *Mapping, opts Options, emit func(Part) error) error {
	if ps := m.Validate(); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.String()
		}
		return fmt.Errorf("%w: %s", ErrMapping, strings.Join(msgs, "; "))
	}
	text, _, err := Decode(b, m.Encoding)
	if err != nil {
		return err
	}
	text = crLineEnds(dropEOFMark(text))
	delim, ok := delimiterRune(m.Delimiter)
	if !ok {
		delim = SniffDelimiter(text)
	}
	t, err := newTable(text, delim)
	if err != nil {
		return err
	}
	c, err := compile(m, t.header, opts)
	if err != nil {
		return err
	}
	// First pass: check every row, and note where each patient's rows are.
	var (
		rowErrs []RowError
		total   int
		groups  []*rowGroup
	)
	byPatient := map[string]*rowGroup{}
	seen := map[uuid.UUID]seenRow{} // with an id column: each row id's first row (by rowID)
	for {
		rec, at, errs, err := t.next()
		if err != nil {
			return err
		}
		if errs != nil {
			rowErrs = append(rowErrs, errs...)
			total++
			continue
		}
		if rec.fields == nil {
			break
		}
		total++
		r, errs := c.row(rec)
		if len(errs) > 0 {
			rowErrs = append(rowErrs, errs...)
			continue
		}
		if c.idx >= 0 {
			// Rows with one id make one resource, the later row winning
			// (a row repeated, a result corrected further down). An id
			// column that is not unique per row (the accession number of
			// every result of a panel, the order number of every line)
			// would leave only the last of rows that are different
			// results, so such rows refuse the file instead. Making an id
			// for them from the row's code would depend on which other
			// rows the file holds (an export with one result of the
			// accession would write another resource), and composing
			// every row's would move every result already sent.
			// With writes conditional the exchange finds a row's
			// resource by its identifier alone (PUT Type?identifier=),
			// not by a patient-scoped id: the same id under two patients
			// (a per-chart result number) would write one patient's row
			// over the other's.
			k, who := c.rowID(&r), uuid.UUID{}
			if c.opts.Mode == ModeConditional {
				k = c.rowID(&row{ident: r.ident})
				who = c.rowID(&row{pid: r.pid})
			}
			what := c.what(&r)
			s, ok := seen[k]
			if !ok {
				seen[k] = seenRow{who: who, what: what, line: rec.line}
			}
			msg := ""
			switch {
			case !ok:
			case s.who != who:
				msg = fmt.Sprintf("the same row identifier as line %d, of another patient: with writes conditional the exchange finds a row's resource by its identifier alone, so one patient's row would overwrite the other's (map as identifier a column unique across the export, or leave identifier out so rows are keyed by what they say)", s.line)
			case s.what != what:
				msg = fmt.Sprintf("the same row identifier as line %d, for another %s: the column is not unique per row, and only one of the rows would reach the exchange (map as identifier a column unique per row, or leave identifier out so rows are keyed by what they say)", s.line, distinctWhat[c.m.Resource])
			}
			if msg != "" {
				e := RowError{Line: rec.line, Column: strings.TrimSpace(c.m.Identifier.Column), Msg: msg}
				if c.opts.LogPHI {
					e.Value = r.ident.Value
				}
				rowErrs = append(rowErrs, e)
				continue
			}
		}
		if len(rowErrs) > 0 {
			continue // the file is refused: only its row errors matter now
		}
		k := r.pid.System + "|" + r.pid.Value
		g := byPatient[k]
		if g == nil {
			g = &rowGroup{pid: r.pid, line: rec.line, n: len(groups) + 1}
			byPatient[k] = g
			groups = append(groups, g)
		}
		g.retied = g.retied || r.retied
		g.at = append(g.at, at)
	}
	if len(rowErrs) > 0 {
		slices.SortStableFunc(rowErrs, func(a, b RowError) int { return a.Line - b.Line })
		return &Error{Rows: rowErrs, Total: total}
	}
	if len(groups) == 0 {
		return errors.New("the file has a header but no rows")
	}
	byPatient, seen = nil, nil
	// Second pass: each patient's rows again, converted and emitted.
	for _, g := range groups {
		rows := make([]row, 0, len(g.at))
		at := map[string]int{} // row uuid → index in rows
		for _, off := range g.at {
			rec, err := t.at(off)
			if err != nil {
				return err
			}
			r, errs := c.row(rec)
			if len(errs) > 0 { // the first pass read the same bytes
				return fmt.Errorf("line %d: read again, the row no longer maps: %s", rec.line, errs[0].String())
			}
			// The same row twice (a repeated line, an id column seen
			// twice) would put one resource twice into a transaction,
			// which the exchange refuses: the later row wins, in the
			// earlier's place.
			// A row under a retired identifier gives way to the
			// survivor's own (its Patient row, say), wherever it is.
			id := c.rowUUID(&r)
			if j, ok := at[id]; ok {
				if !r.retied || rows[j].retied {
					rows[j] = r
				}
				continue
			}
			at[id] = len(rows)
			rows = append(rows, r)
		}
		if err := c.emitGroup(g, rows, emit); err != nil {
			return err
		}
		g.at = nil
	}
	return nil
}

// seenRow is the first row of a row id: what it describes (compiled.what)
// and its line.
type seenRow struct {
	who  uuid.UUID // with writes conditional, the patient's (rowID of the patient alone)
	what [16]byte
	line int
}

// rowGroup is one patient's rows: where they start in the text, in file
// order.
type rowGroup struct {
	pid  fhir.Identifier
	line int // the line of the patient's first row
	n    int // the patient's place among the file's, from 1
	at   []rowAt
	// retied: some rows named the patient by an identifier a merge
	// retired (Options.Merges).
	retied bool
}

// compile resolves the mapping's columns in the header. A column the
// mapping names that the file lacks is an error for the whole file: a
// changed export must not quietly drop what it used to carry.
func compile(m *Mapping, header []string, opts Options) (*compiled, error) {
	loc := time.Local
	if m.TimeZone != "" {
		l, err := time.LoadLocation(m.TimeZone)
		if err != nil {
			return nil, err
		}
		loc = l
	}
	dp, err := newCellReader(m.DateFormats, loc)
	if err != nil {
		return nil, err
	}
	dp.comma = m.DecimalSeparator == ","
	c := &compiled{m: m, spec: paths[m.Resource], dates: dp, idx: -1, opts: opts}
	var missing, twice []string
	find := func(h string) int {
		h = strings.TrimSpace(h)
		// A header that appears twice (letter case ignored, as in
		// matching) cannot say which column is meant: taking either
		// could send the other's values (a report joining two tables
		// has two "Date" columns).
		var at []string
		for i, x := range header {
			if strings.EqualFold(x, h) {
				at = append(at, strconv.Itoa(i+1))
			}
		}
		if len(at) > 1 {
			twice = append(twice, fmt.Sprintf("%q is columns %s", h, strings.Join(at, " and ")))
			return -1
		}
		for i, x := range header {
			if strings.EqualFold(x, h) {
				return i
			}
		}
		missing = append(missing, strconv.Quote(h))
		return -1
	}
	for _, col := range m.Columns {
		c.cols = append(c.cols, find(col.Header))
	}
	if m.Resource == "Patient" {
		c.pidx = find(m.Identifier.Column)
	} else {
		c.pidx = find(m.Patient.Column)
		if m.Identifier != nil {
			c.idx = find(m.Identifier.Column)
		}
	}
	if len(twice) > 0 {
		return nil, fmt.Errorf("line 1: the header names a column the mapping reads more than once: %s (rename all but one in the export)", strings.Join(twice, "; "))
	}
	if len(missing) > 0 {
		// The file's first line is quoted only with log_phi: a file
		// exported without a header has a patient's row there.
		has := fmt.Sprintf("%d columns; with log.phi this error lists them", len(header))
		if opts.LogPHI {
			quoted := make([]string, len(header))
			for i, h := range header {
				quoted[i] = strconv.Quote(h)
			}
			has = strings.Join(quoted, ", ")
		}
		return nil, fmt.Errorf("line 1: the header lacks the column(s) %s the mapping names (the header has %s)",
			strings.Join(missing, ", "), has)
	}
	return c, nil
}

// row is one mapped row.
type row struct {
	line  int
	pid   fhir.Identifier // the patient's identifier
	ident fhir.Identifier // the row's own identifier (for Patient, pid)
	vals  map[string][]string
	res   any // the resource, without id, identifier for minted keys, subject

	// retied: the file named the patient by an identifier a merge
	// retired; pid (and a Patient row's ident) is the survivor's.
	retied bool

	// from: the row is no row of the file but the blood pressure made of
	// the two readings with these identifiers (bloodPressures).
	from []fhir.Identifier
	// glue: the row goes in the transaction of the row before it (a
	// blood pressure and its readings, which it refers to).
	glue bool
}

// row maps one record, or lists what is wrong with it.
func (c *compiled) row(rec record) (row, []RowError) {
	r := row{line: rec.line, vals: map[string][]string{}}
	var errs []RowError
	bad := func(col, msg, value string) {
		e := RowError{Line: rec.line, Column: col, Msg: msg}
		if c.opts.LogPHI {
			e.Value = value
		}
		errs = append(errs, e)
	}
	from := map[string]string{} // path → the header that filled it, for messages
	for i, col := range c.m.Columns {
		raw := strings.TrimSpace(rec.fields[c.cols[i]])
		v := raw
		if isNull(v) {
			if _, named := lookup(col.Map, v); !named {
				v = ""
			}
		}
		if col.Map != nil && v != "" {
			mv, ok := lookup(col.Map, v)
			if !ok {
				bad(col.Header, "value not in the column's map ("+mapKeys(col.Map)+")", raw)
				continue
			}
			v = mv
		}
		if v == "" {
			if col.Required {
				bad(col.Header, "empty, but the column is required", "")
			}
			continue
		}
		p, err := c.spec[col.Path].parse(v, c.dates)
		if err != nil {
			bad(col.Header, err.Error(), raw)
			continue
		}
		r.vals[col.Path] = append(r.vals[col.Path], p)
		if _, ok := from[col.Path]; !ok {
			from[col.Path] = col.Header
		}
	}
	for k, v := range c.m.Set {
		if len(r.vals[k]) > 0 {
			continue
		}
		if p, err := c.spec[k].parse(v, c.dates); err == nil {
			r.vals[k] = []string{p}
		}
	}
	if sys, ok := defaultSystems[c.m.Resource]; ok {
		field := "code.system"
		switch c.m.Resource {
		case "Immunization":
			field = "vaccineCode.system"
		case "MedicationRequest":
			field = "medication.system"
		}
		if len(r.vals[field]) == 0 {
			r.vals[field] = []string{sys}
		}
	}
	pcol := c.m.Identifier
	if c.m.Resource != "Patient" {
		pcol = c.m.Patient
	}
	if v := strings.TrimSpace(rec.fields[c.pidx]); v == "" || isNull(v) {
		bad(strings.TrimSpace(pcol.Column), "no patient identifier", "")
	} else if rounded(v) {
		bad(strings.TrimSpace(pcol.Column), "patient identifier "+msgRounded, v)
	} else {
		r.pid = fhir.Identifier{System: strings.TrimSpace(pcol.System), Value: v}
		if c.opts.Merges != nil {
			surv, ok, err := c.opts.Merges.Survivor(merges.ID{System: r.pid.System, Value: r.pid.Value})
			switch {
			case err != nil:
				bad(strings.TrimSpace(pcol.Column), "patient identifier: "+err.Error(), "")
			case ok:
				r.pid, r.retied = fhir.Identifier{System: surv.System, Value: surv.Value}, true
			}
		}
	}
	if c.idx >= 0 {
		if v := strings.TrimSpace(rec.fields[c.idx]); v == "" || isNull(v) {
			bad(strings.TrimSpace(c.m.Identifier.Column), "no row identifier (the mapping's identifier column)", "")
		} else if rounded(v) {
			bad(strings.TrimSpace(c.m.Identifier.Column), "row identifier "+msgRounded, v)
		} else {
			r.ident = fhir.Identifier{System: strings.TrimSpace(c.m.Identifier.System), Value: v}
		}
	}
	if len(errs) > 0 {
		return r, errs
	}
	for _, p := range namedPaths[c.m.Resource] {
		if len(r.vals[p]) == 0 && len(r.vals[p+".text"]) == 0 && len(r.vals[p+".display"]) > 0 {
			r.vals[p+".text"] = r.vals[p+".display"]
		}
	}
	var res any
	var problems []problem
	get := func(p string) string {
		if vs := r.vals[p]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	switch c.m.Resource {
	case "Patient":
		res, problems = buildPatient(get, r.vals)
	case "Observation":
		res, problems = buildObservation(get, r.vals, c.dates)
	case "Condition":
		res, problems = buildCondition(get, r.vals)
	case "AllergyIntolerance":
		res, problems = buildAllergy(get, r.vals)
	case "Immunization":
		res, problems = buildImmunization(get, r.vals)
	case "Encounter":
		res, problems = buildEncounter(get, r.vals)
	case "Procedure":
		res, problems = buildProcedure(get, r.vals)
	case "MedicationRequest":
		res, problems = buildMedicationRequest(get, r.vals)
	}
	for _, p := range problems {
		col := from[p.path]
		if col == "" {
			col = c.columnFor(p.path)
		}
		bad(col, p.msg, "")
	}
	if len(errs) > 0 {
		return r, errs
	}
	r.res = res
	if c.m.Resource == "Patient" {
		r.ident = r.pid
	} else if r.ident.Value == "" {
		r.ident = c.mintIdentifier(&r)
	}
	return r, nil
}

// isNull reports whether a cell is a database's mark for no value, as
// exports write it: NULL (SQL Server Management Studio's "Save Results
// As", Access) or \N (MySQL's SELECT ... INTO OUTFILE, PostgreSQL's
// COPY text format). Such a cell is empty, unless the column's map names
// it. Other words (N/A, None) are values, refused where they do not fit.
func isNull(v string) bool { return v == "NULL" || v == `\N` }

// rounded reports whether an identifier is a number as a spreadsheet
// writes a long one once the file has been opened and saved in it:
// 123456789012 as 1.23457E+11, or 1,23457E+11 where the spreadsheet's
// locale has a decimal comma. Its digits are gone, so it names no one,
// and several patients (or rows) would become one.
func rounded(v string) bool {
	mant, exp, ok := strings.Cut(v, "E+")
	if !ok || !digits(exp) || mant == "" || mant[0] < '1' || mant[0] > '9' {
		return false
	}
	if len(mant) == 1 {
		return true
	}
	return (mant[1] == '.' || mant[1] == ',') && digits(mant[2:])
}

const msgRounded = "is a number in scientific notation, as a spreadsheet saves a long one, and its digits are lost (export the file again without opening it in Excel, or format the column as text)"

// columnFor names the column mapped to path (or its first alternative)
// for a message about a value the row lacks.
func (c *compiled) columnFor(path string) string {
	for _, alt := range strings.Split(path, "|") {
		for _, col := range c.m.Columns {
			if col.Path == alt {
				return col.Header
			}
		}
	}
	return ""
}

func (c *compiled) base() string {
	if c.opts.Base != "" {
		return c.opts.Base
	}
	return "urn:ferry"
}

// mintIdentifier identifies a row without an id column by what it says
// (keyPaths), scoped to its patient and the site: the same row in any
// later export gets the same identifier, and so lands on the same
// resource.
func (c *compiled) mintIdentifier(r *row) fhir.Identifier {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s|%s\x00", c.m.Resource, r.pid.System, r.pid.Value)
	for _, p := range keyPaths[c.m.Resource] {
		vs := r.vals[p]
		if len(vs) == 1 {
			// A time as written in the file, not as placed in a zone: a
			// gateway moved to another time zone (or `ferry convert` on a
			// laptop elsewhere) must mint the same identifier.
			fmt.Fprintf(h, "%s=%s\x00", p, wallClock(vs[0]))
			continue
		}
		fmt.Fprintf(h, "%s=%s\x00", p, strings.Join(vs, "\x1f"))
	}
	// A procedure dated only by its end (performedPeriod.end may stand
	// alone) is known by that end: without it every procedure of a code
	// of the patient was one. A start, when there is one, stays the key,
	// so an end added by a later export updates the same resource.
	if end := r.vals["performedPeriod.end"]; c.m.Resource == "Procedure" && len(end) == 1 &&
		len(r.vals["performedDateTime"]) == 0 && len(r.vals["performedPeriod.start"]) == 0 {
		fmt.Fprintf(h, "performedPeriod.end=%s\x00", wallClock(end[0]))
	}
	return fhir.Identifier{System: c.base() + ":csv:" + strings.ToLower(c.m.Resource) + "-key", Value: hex.EncodeToString(h.Sum(nil))}
}

// wallClock drops the UTC offset from a FHIR dateTime with a time
// ("2024-03-04T14:30:00-06:00" → "2024-03-04T14:30:00"); anything else
// comes back as it is.
func wallClock(v string) string {
	if len(v) < len("2006-01-02T15:04Z") || v[10] != 'T' {
		return v
	}
	if strings.HasSuffix(v, "Z") {
		return v[:len(v)-1]
	}
	if n := len(v) - len("-07:00"); n > 10 && (v[n] == '+' || v[n] == '-') && v[n+3] == ':' {
		return v[:n]
	}
	return v
}

func lookup(m map[string]string, v string) (string, bool) {
	if mv, ok := m[v]; ok {
		return strings.TrimSpace(mv), true
	}
	for k, mv := range m {
		if strings.EqualFold(strings.TrimSpace(k), v) {
			return strings.TrimSpace(mv), true
		}
	}
	return "", false
}

// mapKeys lists a map's keys for a message (they are configuration, not
// data): sorted, at most ten.
func mapKeys(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, strconv.Quote(k))
	}
	slices.Sort(keys)
	if len(keys) > 10 {
		keys = append(keys[:10], "...")
	}
	return "it has " + strings.Join(keys, ", ")
}

// labels renders Mapping.Security as meta.security: one confidentiality
// code first (R when only sensitivity or policy codes are given: such
// content is restricted, and guessing lower would be a downgrade), then
// the other codes.
func labels(codes []string) []fhir.Coding {
	if len(codes) == 0 {
		return nil
	}
	conf := ""
	var rest []fhir.Coding
	for _, c := range codes {
		if isConfidentiality(c) {
			conf = strings.ToUpper(c)
			continue
		}
		rest = append(rest, fhir.Coding{System: v2fhir.SystemActCode, Code: c})
	}
	if conf == "" {
		conf = "R"
	}
	return append([]fhir.Coding{{System: v2fhir.SystemConfidentiality, Code: conf, Display: confDisplay[conf]}}, rest...)
}

var confDisplay = map[string]string{"U": "unrestricted", "L": "low", "M": "moderate", "N": "normal", "R": "restricted", "V": "very restricted"}

func isConfidentiality(c string) bool { _, ok := confDisplay[strings.ToUpper(c)]; return ok }

func countConfidentiality(codes []string) int {
	n := 0
	for _, c := range codes {
		if isConfidentiality(c) {
			n++
		}
	}
	return n
}

// parts groups the rows per patient and cuts each group into bundles.
// emitGroup cuts one patient's rows into transactions of at most the
// mode's entry limit (with the patient entry in each) and emits them.
func (c *compiled) emitGroup(g *rowGroup, rows []row, emit func(Part) error) error {
	limit := c.opts.MaxEntries
	if limit <= 0 {
		limit = fhir.MaxConditionalEntries
		if c.opts.Mode == ModeIDs {
			limit = fhir.MaxTransactionEntries
		}
	}
	if g.retied && c.m.Resource == "Patient" && c.opts.Mode == ModeIDs {
		// The retired record's demographics are not written (see
		// Options.Merges); the survivor's own row, if any, is.
		rows = slices.DeleteFunc(rows, func(r row) bool { return r.retied })
		if len(rows) == 0 {
			return nil
		}
	}
	if c.m.Resource == "Observation" {
		rows = c.bloodPressures(rows)
	}
	sec := labels(c.m.Security)
	patientEntry, ref := c.patientEntry(g.pid, sec)
	per := limit
	if patientEntry != nil {
		per = max(1, limit-1)
	}
	// Transactions of at most per rows, a glued row kept with the rows
	// before it unless they are more than one transaction takes.
	var chunks [][]row
	for start := 0; start < len(rows); {
		end := min(start+per, len(rows))
		for end < len(rows) && end > start && rows[end].glue {
			end--
		}
		if end == start {
			end = min(start+per, len(rows))
		}
		chunks = append(chunks, rows[start:end])
		start = end
	}
	n := len(chunks)
	for i, chunk := range chunks {
		b := &fhir.Bundle{ResourceType: "Bundle", Type: "transaction", Entry: make([]fhir.BundleEntry, 0, len(chunk)+1)}
		if len(sec) > 0 {
			b.Meta = &fhir.Meta{Security: sec}
		}
		if patientEntry != nil {
			b.Entry = append(b.Entry, *patientEntry)
		}
		inBundle := map[string]bool{}
		fileRows := 0
		for j := range chunk {
			inBundle[c.rowUUID(&chunk[j])] = true
			if chunk[j].from == nil {
				fileRows++
			}
		}
		for j := range chunk {
			if o, ok := chunk[j].res.(*fhir.Observation); ok && chunk[j].from != nil {
				o.DerivedFrom = c.readingRefs(&chunk[j], inBundle)
			}
			b.Entry = append(b.Entry, c.entry(&chunk[j], ref, sec))
		}
		part := Part{Bundle: b, PatientKey: fhir.PatientKey(g.pid.System, g.pid.Value),
			PatientIdentifier: fhir.Identifier{System: g.pid.System, Value: g.pid.Value},
			Patient:           g.n, Line: g.line, Index: i + 1, Of: n, Rows: fileRows, Labels: sec}
		if g.retied && i == 0 {
			part.Retied = 1
		}
		err := emit(part)
		if err != nil {
			return err
		}
	}
	return nil
}

// The codes of a blood pressure and its readings (FHIR R4's blood
// pressure profile, http://hl7.org/fhir/StructureDefinition/bp, and US
// Core Blood Pressure).
const (
	loincBP        = "85354-9"
	loincSystolic  = "8480-6"
	loincDiastolic = "8462-4"
)

func hasLOINC(cc *fhir.CodeableConcept, code string) bool {
	return slices.ContainsFunc(cc.Coding, func(c fhir.Coding) bool { return c.System == sysLOINC && c.Code == code })
}

// bloodPressures adds to one patient's rows the blood pressure of each
// systolic and diastolic reading of one time and status, as the HL7 v2
// converter does for a report's two OBX: FHIR R4's blood pressure
// profile and US Core Blood Pressure want the two as the components of
// one Observation coded 85354-9, and a search for it finds no other. The
// readings go as before, the blood pressure derived from them; a time
// with a blood pressure row of the export's own gets none. The two
// readings and the blood pressure go together in the place of the
// first, in one transaction (glue). Its identifier is minted from the
// readings', so the same rows make the same blood pressure.
func (c *compiled) bloodPressures(rows []row) []row {
	var sys, dia []int
	own := map[string]bool{} // times with a blood pressure row
	for i := range rows {
		o, ok := rows[i].res.(*fhir.Observation)
		if !ok || o.EffectiveDateTime == "" {
			continue
		}
		switch {
		case hasLOINC(&o.Code, loincBP):
			own[o.EffectiveDateTime] = true
		case o.ValueQuantity == nil:
		case hasLOINC(&o.Code, loincSystolic):
			sys = append(sys, i)
		case hasLOINC(&o.Code, loincDiastolic):
			dia = append(dia, i)
		}
	}
	if len(sys) == 0 || len(dia) == 0 {
		return rows
	}
	partner := map[int]int{} // the first reading of a pair → the other
	paired := map[int]bool{} // the second readings
	for _, s := range sys {
		so := rows[s].res.(*fhir.Observation)
		if own[so.EffectiveDateTime] {
			continue
		}
		for _, d := range dia {
			do := rows[d].res.(*fhir.Observation)
			if paired[d] || paired[s] || do.EffectiveDateTime != so.EffectiveDateTime || do.Status != so.Status {
				continue
			}
			if _, used := partner[d]; used {
				continue
			}
			partner[min(s, d)] = max(s, d)
			paired[max(s, d)] = true
			break
		}
	}
	if len(partner) == 0 {
		return rows
	}
	out := make([]row, 0, len(rows)+len(partner))
	for i := range rows {
		if paired[i] {
			continue
		}
		out = append(out, rows[i])
		j, ok := partner[i]
		if !ok {
			continue
		}
		second := rows[j]
		second.glue = true
		out = append(out, second, c.bloodPressure(&rows[i], &rows[j]))
	}
	return out
}

// bloodPressure is the blood pressure row made of the readings a and b
// (a systolic and a diastolic, in either order).
func (c *compiled) bloodPressure(a, b *row) row {
	s, d := a, b
	if hasLOINC(&a.res.(*fhir.Observation).Code, loincDiastolic) {
		s, d = b, a
	}
	so, do := s.res.(*fhir.Observation), d.res.(*fhir.Observation)
	bp := &fhir.Observation{ResourceType: "Observation", Status: so.Status, Category: so.Category,
		Code:              *concept(sysLOINC, loincBP, "Blood pressure panel with all children optional", ""),
		EffectiveDateTime: so.EffectiveDateTime}
	for _, o := range []*fhir.Observation{so, do} {
		for _, p := range o.Performer {
			if !slices.Contains(bp.Performer, p) {
				bp.Performer = append(bp.Performer, p)
			}
		}
		bp.Component = append(bp.Component, fhir.ObservationComponent{Code: o.Code, ValueQuantity: o.ValueQuantity,
			Interpretation: o.Interpretation, ReferenceRange: o.ReferenceRange})
	}
	h := sha256.New()
	fmt.Fprintf(h, "Observation\x00%s|%s\x00%s\x00", s.pid.System, s.pid.Value, loincBP)
	for _, r := range []*row{s, d} {
		fmt.Fprintf(h, "%s|%s\x00", r.ident.System, r.ident.Value)
	}
	ident := fhir.Identifier{System: c.base() + ":csv:observation-key", Value: hex.EncodeToString(h.Sum(nil))}
	return row{line: d.line, pid: s.pid, ident: ident, res: bp, from: []fhir.Identifier{s.ident, d.ident}, glue: true}
}

// readingRefs refers to the readings a blood pressure row is derived
// from: by the fullUrl of their entries in the same transaction (in, by
// row UUID), else by id, or by identifier where the exchange chose the
// id (ModeConditional).
func (c *compiled) readingRefs(r *row, in map[string]bool) []fhir.Reference {
	out := make([]fhir.Reference, 0, len(r.from))
	for _, id := range r.from {
		u := c.rowUUID(&row{pid: r.pid, ident: id})
		switch {
		case in[u]:
			out = append(out, fhir.Reference{Reference: "urn:uuid:" + u})
		case c.opts.Mode == ModeConditional:
			out = append(out, fhir.Reference{Type: "Observation", Identifier: &fhir.Identifier{System: id.System, Value: id.Value}})
		default:
			out = append(out, fhir.Reference{Reference: "Observation/" + u})
		}
	}
	return out
}

func (c *compiled) patientUUID(pid fhir.Identifier) string {
	// The id every converter gives the Patient with this identifier:
	// with hl7v2.writes ids, a patient who arrives by ADT, by C-CDA and
	// by CSV is one Patient.
	return fhir.PatientID(pid.System, pid.Value)
}

// rowUUID is the row's resource id: the UUIDv5 of its identifier, scoped
// to its patient so that an id an export reuses for another patient can
// never make two patients share a resource.
func (c *compiled) rowUUID(r *row) string {
	if c.m.Resource == "Patient" {
		return c.patientUUID(r.pid)
	}
	return c.rowID(r).String()
}

// rowID is rowUUID of a row other than a Patient's.
func (c *compiled) rowID(r *row) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte("Patient|"+r.pid.System+"|"+r.pid.Value+"|"+c.m.Resource+"|"+r.ident.System+"|"+r.ident.Value))
}

// distinctPaths are the paths that tell two results, problems, allergies,
// doses, procedures or prescriptions apart: keyPaths without the
// Observation's value, so that a result corrected further down a file is
// the same result. An Encounter's row has none: a visit's id is the
// visit.
var distinctPaths = map[string][]string{
	"Observation":        {"code.system", "code", "code.text", "effectiveDateTime"},
	"Condition":          keyPaths["Condition"],
	"AllergyIntolerance": keyPaths["AllergyIntolerance"],
	"Immunization":       keyPaths["Immunization"],
	"Procedure":          keyPaths["Procedure"],
	"MedicationRequest":  keyPaths["MedicationRequest"],
}

// distinctWhat names what distinctPaths compare, for a message.
var distinctWhat = map[string]string{
	"Observation":        "test or time (code, effectiveDateTime)",
	"Condition":          "problem or onset (code, onsetDateTime)",
	"AllergyIntolerance": "substance (code)",
	"Immunization":       "vaccine or date (vaccineCode, occurrenceDateTime)",
	"Procedure":          "procedure or date (code, performedDateTime, performedPeriod.start)",
	"MedicationRequest":  "medication or order date (medication, authoredOn)",
	"Encounter":          "visit",
}

// what digests the row's distinctPaths: rows under one row id with
// different digests are different things.
func (c *compiled) what(r *row) [16]byte {
	h := sha256.New()
	for _, p := range distinctPaths[c.m.Resource] {
		fmt.Fprintf(h, "%s=%s\x00", p, strings.Join(r.vals[p], "\x1f"))
	}
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

// patientEntry is the entry that names the patient of a clinical row,
// and the reference the rows use. A Patient row is its own entry. The
// Patient it may create carries the file's labels sec, as every resource
// from the file does.
func (c *compiled) patientEntry(pid fhir.Identifier, sec []fhir.Coding) (*fhir.BundleEntry, *fhir.Reference) {
	u := c.patientUUID(pid)
	if c.m.Resource == "Patient" {
		return nil, nil
	}
	if c.opts.Mode == ModeIDs {
		return nil, &fhir.Reference{Reference: "Patient/" + u}
	}
	// The exchange creates this patient only when it has none with the
	// chart number; the file has no name for them, so the name says why
	// (US Core us-core-6 allows a data-absent-reason instead of a name)
	// until a Patient row or an ADT fills it in.
	p := &fhir.Patient{ResourceType: "Patient", Identifier: []fhir.Identifier{mrn(pid)}, Gender: "unknown",
		Name: []fhir.HumanName{{Extension: []fhir.Extension{{URL: urlDataAbsent, ValueCode: "unknown"}}}}}
	if len(sec) > 0 {
		p.Meta = &fhir.Meta{Security: sec}
	}
	e := &fhir.BundleEntry{FullURL: "urn:uuid:" + u, Resource: p,
		Request: &fhir.BundleRequest{Method: "POST", URL: "Patient", IfNoneExist: fhir.IdentifierQuery(pid.System, pid.Value)}}
	return e, &fhir.Reference{Reference: e.FullURL}
}

// replacesLinks are the links of the Patient whose identifier is pid to
// each record merged into it (Options.Merges, when it is a
// v2fhir.MergedLookup), as the HL7 v2 merge (ADT^A40) wrote them: a
// Patient row's write replaces the whole Patient, and without the links
// the exchange keeps no way from the survivor to what it holds filed to
// the merged record. Where ferry knows the merged record's id (ModeIDs:
// fhir.PatientID, the id the HL7 v2 converter gave it) a link names it;
// otherwise (conditional, the exchange chose it) the record's identifier.
func (c *compiled) replacesLinks(pid fhir.Identifier, conditional bool) []fhir.PatientLink {
	ml, ok := c.opts.Merges.(v2fhir.MergedLookup)
	if !ok {
		return nil
	}
	var out []fhir.PatientLink
	for _, m := range ml.Merged(merges.ID{System: pid.System, Value: pid.Value}) {
		other := fhir.Reference{Type: "Patient", Identifier: &fhir.Identifier{System: m.System, Value: m.Value}}
		if !conditional {
			other = fhir.Reference{Reference: "Patient/" + fhir.PatientID(m.System, m.Value)}
		}
		out = append(out, fhir.PatientLink{Other: other, Type: "replaces"})
	}
	return out
}

// mrn is the patient identifier as written: a medical record number
// (v2-0203 MR, STANDARDS.md).
func mrn(pid fhir.Identifier) fhir.Identifier {
	return fhir.Identifier{Use: "usual", Type: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: sysV20203, Code: "MR"}}},
		System: pid.System, Value: pid.Value}
}

// entry is the bundle entry of one row.
func (c *compiled) entry(r *row, patient *fhir.Reference, sec []fhir.Coding) fhir.BundleEntry {
	u := c.rowUUID(r)
	typ := c.m.Resource
	id := u
	req := &fhir.BundleRequest{Method: "PUT", URL: typ + "/" + u}
	conditional := c.opts.Mode == ModeConditional || c.opts.Mode == ModePatientConditional && typ == "Patient"
	if conditional {
		id = ""
		req.URL = typ + "?" + fhir.IdentifierQuery(r.ident.System, r.ident.Value)
		if typ == "Patient" && c.opts.PatientCreateOnly {
			req.Method, req.URL, req.IfNoneExist = "POST", typ, fhir.IdentifierQuery(r.ident.System, r.ident.Value)
		}
	}
	var meta *fhir.Meta
	if len(sec) > 0 {
		meta = &fhir.Meta{Security: sec}
	}
	if p, ok := r.res.(*fhir.Patient); ok && r.retied {
		// A Patient row under a retired identifier only finds the
		// survivor (Options.Merges): created from the row's name,
		// gender and birth date only if the exchange has none.
		body := &fhir.Patient{ResourceType: "Patient", Meta: meta, Identifier: []fhir.Identifier{mrn(r.pid)},
			Name: p.Name, Gender: p.Gender, BirthDate: p.BirthDate}
		return fhir.BundleEntry{FullURL: "urn:uuid:" + u, Resource: body,
			Request: &fhir.BundleRequest{Method: "POST", URL: "Patient", IfNoneExist: fhir.IdentifierQuery(r.pid.System, r.pid.Value)}}
	}
	switch res := r.res.(type) {
	case *fhir.Patient:
		res.ID, res.Meta = id, meta
		res.Identifier = []fhir.Identifier{mrn(r.pid)}
		res.Link = c.replacesLinks(r.pid, conditional)
	case *fhir.Observation:
		res.ID, res.Meta, res.Subject = id, meta, patient
		res.Identifier = []fhir.Identifier{r.ident}
	case *fhir.Condition:
		res.ID, res.Meta, res.Subject = id, meta, patient
		res.Identifier = []fhir.Identifier{r.ident}
	case *fhir.AllergyIntolerance:
		res.ID, res.Meta, res.Patient = id, meta, patient
		res.Identifier = []fhir.Identifier{r.ident}
	case *fhir.Immunization:
		res.ID, res.Meta, res.Patient = id, meta, patient
		res.Identifier = []fhir.Identifier{r.ident}
	case *fhir.Encounter:
		res.ID, res.Meta, res.Subject = id, meta, patient
		res.Identifier = []fhir.Identifier{r.ident}
	case *fhir.Procedure:
		res.ID, res.Meta, res.Subject = id, meta, patient
		res.Identifier = []fhir.Identifier{r.ident}
	case *fhir.MedicationRequest:
		res.ID, res.Meta, res.Subject = id, meta, patient
		res.Identifier = []fhir.Identifier{r.ident}
	}
	return fhir.BundleEntry{FullURL: "urn:uuid:" + u, Resource: r.res, Request: req}
}

// problem is a value a row lacks or contradicts, by path ("a|b": one of
// them).
type problem struct{ path, msg string }

func concept(system, code, display, text string) *fhir.CodeableConcept {
	if code == "" && text == "" {
		return nil
	}
	cc := &fhir.CodeableConcept{Text: text}
	if code != "" {
		cc.Coding = []fhir.Coding{{System: systemURI(system), Code: code, Display: display}}
	} else if display != "" && cc.Text == "" {
		cc.Text = display
	}
	return cc
}

func coded(system, code string) *fhir.CodeableConcept {
	if code == "" {
		return nil
	}
	return &fhir.CodeableConcept{Coding: []fhir.Coding{{System: system, Code: code}}}
}

func textConcept(s string) *fhir.CodeableConcept {
	if s == "" {
		return nil
	}
	return &fhir.CodeableConcept{Text: s}
}

func notes(vs []string) []fhir.Annotation {
	var out []fhir.Annotation
	for _, v := range vs {
		out = append(out, fhir.Annotation{Text: v})
	}
	return out
}

func boolPtr(s string) *bool {
	if s == "" {
		return nil
	}
	b := s == "true"
	return &b
}

func buildPatient(get func(string) string, vals map[string][]string) (any, []problem) {
	p := &fhir.Patient{ResourceType: "Patient", Gender: get("gender"), BirthDate: get("birthDate")}
	if p.Gender == "" {
		p.Gender = "unknown" // US Core's gender is 1..1, as the v2 and C-CDA paths write it
	}
	n := fhir.HumanName{Family: get("name.family"), Given: vals["name.given"], Prefix: vals["name.prefix"],
		Suffix: vals["name.suffix"], Text: get("name.text")}
	if n.Family == "" && len(n.Given) == 0 && n.Text == "" {
		return nil, []problem{{"name.family|name.given|name.text", "no name (US Core requires one)"}}
	}
	n.Use = "official"
	if n.Family == "" && len(n.Given) == 0 {
		// A name the export writes whole (name.text): US Core's
		// us-core-6 wants a family or given part or else the
		// data-absent-reason extension, and the export has no parts
		// to give.
		n.Extension = []fhir.Extension{{URL: urlDataAbsent, ValueCode: "unsupported"}}
	}
	p.Name = []fhir.HumanName{n}
	switch d, b := get("deceasedDateTime"), get("deceasedBoolean"); {
	case d != "":
		p.DeceasedDateTime = d
	case b != "":
		p.DeceasedBoolean = boolPtr(b)
	}
	a := fhir.Address{Line: vals["address.line"], City: get("address.city"), District: get("address.district"),
		State: get("address.state"), PostalCode: get("address.postalCode"), Country: get("address.country")}
	if len(a.Line) > 0 || a.City != "" || a.District != "" || a.State != "" || a.PostalCode != "" || a.Country != "" {
		a.Use = "home"
		p.Address = []fhir.Address{a}
	}
	if v := get("telecom.phone"); v != "" {
		p.Telecom = append(p.Telecom, fhir.ContactPoint{System: "phone", Value: v, Use: "home"})
	}
	if v := get("telecom.mobile"); v != "" {
		p.Telecom = append(p.Telecom, fhir.ContactPoint{System: "phone", Value: v, Use: "mobile"})
	}
	if v := get("telecom.email"); v != "" {
		p.Telecom = append(p.Telecom, fhir.ContactPoint{System: "email", Value: v})
	}
	if v := get("communication.language"); v != "" {
		lang := fhir.CodeableConcept{Text: v}
		if isLanguageTag(v) {
			lang = fhir.CodeableConcept{Coding: []fhir.Coding{{System: sysBCP47, Code: fhir.LanguageTag(v)}}}
		}
		p.Communication = []fhir.PatientCommunication{{Language: lang}}
	}
	return p, nil
}

// isLanguageTag reports whether s looks like a BCP 47 tag (en, en-US,
// es-419) rather than a language's name ("English").
func isLanguageTag(s string) bool {
	primary, rest, _ := strings.Cut(s, "-")
	if len(primary) < 2 || len(primary) > 3 || strings.ToLower(primary) != primary {
		return false
	}
	for _, r := range primary + rest {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func buildObservation(get func(string) string, vals map[string][]string, dp *cellReader) (any, []problem) {
	o := &fhir.Observation{ResourceType: "Observation", Status: get("status"), EffectiveDateTime: get("effectiveDateTime")}
	if o.Status == "" {
		o.Status = "final"
	}
	cc := concept(get("code.system"), get("code"), get("code.display"), get("code.text"))
	if cc == nil {
		return nil, []problem{{"code|code.text", "no code"}}
	}
	o.Code = *cc
	c := get("category")
	if c == "" {
		// The mapping gives a category (Validate), but a column's cell
		// may be empty: every US Core Observation profile fixes one.
		return nil, []problem{{"category", "no category (US Core Observations need one: laboratory, vital-signs ...; a set: default fills empty cells)"}}
	}
	o.Category = []fhir.CodeableConcept{*coded(sysObsCategory, c)}
	if d := o.EffectiveDateTime; d != "" && len(d) < len("2006-01-02") && (c == "laboratory" || c == "vital-signs") {
		// US Core Laboratory Result Observation's us-core-1 and FHIR R4's
		// vital signs vs-1 (both errors): the date is at least to the day.
		return nil, []problem{{"effectiveDateTime", "the date gives no day (a " + c + " result's must: US Core us-core-1, FHIR vs-1)"}}
	}
	if o.EffectiveDateTime == "" && c == "vital-signs" {
		// FHIR R4's vital signs profile, which US Core's derive from,
		// makes effective[x] 1..1: a validating exchange refuses a
		// reading without its time, and the patient's transaction with it.
		return nil, []problem{{"effectiveDateTime", "no date (a vital-signs result's is required: FHIR vital signs profile, effective[x] 1..1)"}}
	}
	unit, ucum := get("valueQuantity.unit"), get("valueQuantity.ucum")
	if c == "vital-signs" && (ucumcheck.Valid(ucum) || ucum == "" && unit == "") {
		// FHIR R4's vital signs profiles fix each measurement's UCUM
		// code: one saying the same ("{beats}/min", a BMI's "1") is
		// sent as the profile's (ucum.VitalUnit); a blood pressure's
		// is its readings'.
		for _, x := range o.Code.Coding {
			loinc := x.Code
			if loinc == "85354-9" {
				loinc = "8480-6"
			}
			if x.System != sysLOINC || !ucumcheck.VitalSign(loinc) {
				continue
			}
			if a, ok := ucumcheck.VitalUnit(loinc, ucum); ok {
				if unit == ucum {
					unit = a
				}
				ucum = a
			}
			break
		}
	}
	quantity := func(v, comparator string) *fhir.Quantity {
		q := &fhir.Quantity{Value: json.Number(v), Comparator: comparator, Unit: unit}
		if ucum != "" {
			// Exports fill the column with "mEq/L" or "10+3/ul" too; the
			// exchange rejects an invalid UCUM code, so that is text only.
			if ucumcheck.Valid(ucum) {
				q.System, q.Code = sysUCUM, ucum
			}
			if q.Unit == "" {
				q.Unit = ucum
			}
		}
		return q
	}
	switch v, q, s := get("value"), get("valueQuantity.value"), get("valueString"); {
	case q != "":
		o.ValueQuantity = quantity(q, "")
	case v != "":
		if cmp, num, ok := comparatorValue(v); ok {
			o.ValueQuantity = quantity(num, cmp)
		} else if lo, hi, ok := rangeValue(v, dp); ok {
			// "0-2" cells per high-power field: a Range keeps the unit
			// a valueString would lose (R4 value[x]; rng-2: low <= high).
			o.ValueRange = &fhir.Range{Low: quantity(lo, ""), High: quantity(hi, "")}
		} else if n, d, ok := titerValue(v); ok {
			// R4's Ratio is for titers; its parts carry no unit.
			o.ValueRatio = &fhir.Ratio{Numerator: &fhir.Quantity{Value: json.Number(n)}, Denominator: &fhir.Quantity{Value: json.Number(d)}}
		} else {
			o.ValueString = v
		}
	case s != "":
		o.ValueString = s
	}
	if sys, dia, ok := bloodPressureValue(o, dp); ok {
		// FHIR R4's blood pressure profile and US Core Blood Pressure:
		// a blood pressure's readings are its systolic and diastolic
		// components, each a quantity, and it has no value of its own.
		o.ValueString = ""
		o.Component = []fhir.ObservationComponent{
			{Code: *concept(sysLOINC, "8480-6", "Systolic blood pressure", ""), ValueQuantity: quantity(sys, "")},
			{Code: *concept(sysLOINC, "8462-4", "Diastolic blood pressure", ""), ValueQuantity: quantity(dia, "")}}
	}
	hasValue := o.ValueQuantity != nil || o.ValueString != "" || o.ValueRange != nil || o.ValueRatio != nil || o.Component != nil
	switch dar := get("dataAbsentReason"); {
	case dar != "" && hasValue:
		return nil, []problem{{"dataAbsentReason", "a dataAbsentReason beside a value (FHIR obs-6)"}}
	case dar != "":
		o.DataAbsentReason = coded(sysAbsent, dar)
	case !hasValue:
		// US Core: a result has a value or says why not.
		o.DataAbsentReason = coded(sysAbsent, "unknown")
	}
	if i := get("interpretation"); i != "" {
		o.Interpretation = []fhir.CodeableConcept{*coded(sysInterpret, i)}
	}
	rr := fhir.ObservationReferenceRange{Text: get("referenceRange.text")}
	if v := get("referenceRange.low"); v != "" {
		rr.Low = quantity(v, "")
	}
	if v := get("referenceRange.high"); v != "" {
		rr.High = quantity(v, "")
	}
	if rr.Low != nil || rr.High != nil || rr.Text != "" {
		o.ReferenceRange = []fhir.ObservationReferenceRange{rr}
	}
	o.Note = notes(vals["note"])
	o.Method = textConcept(get("method.text"))
	o.BodySite = textConcept(get("bodySite.text"))
	if v := get("specimen.display"); v != "" {
		o.Specimen = &fhir.Reference{Display: v}
	}
	if v := get("performer.display"); v != "" {
		o.Performer = []fhir.Reference{{Display: v}}
	}
	return o, nil
}

// comparatorValue reads a lab value that is a number, possibly with a
// comparator: "5.4", "<0.1", ">= 200".
// bloodPressureValue reads the text value of an Observation coded 85354-9
// (blood pressure) written as the reading, systolic over diastolic
// ("132/86", with the mapping's decimal separator).
func bloodPressureValue(o *fhir.Observation, dp *cellReader) (sys, dia string, ok bool) {
	if o.ValueString == "" || !slices.ContainsFunc(o.Code.Coding, func(c fhir.Coding) bool {
		return c.System == sysLOINC && c.Code == "85354-9"
	}) {
		return "", "", false
	}
	a, b, found := strings.Cut(o.ValueString, "/")
	if !found {
		return "", "", false
	}
	if sys, ok = decimal(dp.number(strings.TrimSpace(a))); !ok {
		return "", "", false
	}
	dia, ok = decimal(dp.number(strings.TrimSpace(b)))
	return sys, dia, ok
}

func comparatorValue(v string) (comparator, number string, ok bool) {
	for _, c := range []string{"<=", ">=", "<", ">"} {
		if rest, found := strings.CutPrefix(v, c); found {
			comparator, v = c, strings.TrimSpace(rest)
			break
		}
	}
	number, ok = decimal(v)
	return comparator, number, ok
}

// rangeValue reads a result written as a range of two numbers, low
// first: "0-2", "5 - 10" (with the mapping's decimal separator). A
// negative low, or a low above the high ("2024-01"), is no range.
func rangeValue(v string, dp *cellReader) (low, high string, ok bool) {
	a, b, found := strings.Cut(v, "-")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !found || a == "" || b == "" || a[0] < '0' || a[0] > '9' || b[0] < '0' || b[0] > '9' {
		return "", "", false
	}
	if low, ok = decimal(dp.number(a)); !ok {
		return "", "", false
	}
	if high, ok = decimal(dp.number(b)); !ok {
		return "", "", false
	}
	l, errL := strconv.ParseFloat(low, 64)
	h, errH := strconv.ParseFloat(high, 64)
	if errL != nil || errH != nil || l > h {
		return "", "", false
	}
	return low, high, true
}

// titerValue reads a titer, "1:40" or "1:2560" (or its reverse, "4:1"):
// whole numbers without leading zeros, one of them 1, so that a time
// ("08:30", "12:15") is not taken for one.
func titerValue(v string) (num, den string, ok bool) {
	a, b, found := strings.Cut(v, ":")
	whole := func(s string) bool { return digits(s) && s[0] != '0' }
	if !found || !whole(a) || !whole(b) || a != "1" && b != "1" {
		return "", "", false
	}
	return a, b, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func buildCondition(get func(string) string, vals map[string][]string) (any, []problem) {
	c := &fhir.Condition{ResourceType: "Condition", OnsetDateTime: get("onsetDateTime"),
		AbatementDateTime: get("abatementDateTime"), RecordedDate: get("recordedDate")}
	c.Code = concept(get("code.system"), get("code"), get("code.display"), get("code.text"))
	if c.Code == nil {
		return nil, []problem{{"code|code.text", "no code"}}
	}
	clinical, ver := get("clinicalStatus"), get("verificationStatus")
	switch {
	case ver == "entered-in-error":
		// A retraction, whatever the row's status column still says:
		// con-5 refuses a clinical status beside entered-in-error, and
		// con-4 an abatement without a resolved, remission or inactive
		// one, so a condition in error carries neither.
		clinical, c.AbatementDateTime = "", ""
	case clinical == "":
		// R4 con-3 wants a clinical status on a problem-list item and
		// con-4 one of resolved, remission or inactive beside an
		// abatement; as for HL7 v2 problems (PRB), a row with an end
		// date is resolved and one without is active.
		clinical = "active"
		if c.AbatementDateTime != "" {
			clinical = "resolved"
		}
	}
	switch clinical {
	case "active", "recurrence", "relapse":
		if c.AbatementDateTime != "" {
			// con-4: an abated condition is inactive, resolved or in
			// remission. Which of the row's two columns is wrong only
			// the clinic can tell.
			return nil, []problem{{"clinicalStatus", clinical + " beside an abatement (abatementDateTime; FHIR con-4 allows only inactive, resolved or remission)"}}
		}
	}
	c.ClinicalStatus = coded(sysCondClinical, clinical)
	c.VerificationStatus = coded(sysCondVer, ver)
	cat := get("category")
	if cat == "" {
		cat = "problem-list-item"
	}
	sys := sysCondCategory
	if cat == "health-concern" {
		sys = sysUSCoreCondCat
	}
	c.Category = []fhir.CodeableConcept{*coded(sys, cat)}
	c.Severity = textConcept(get("severity.text"))
	c.Note = notes(vals["note"])
	return c, nil
}

func buildAllergy(get func(string) string, vals map[string][]string) (any, []problem) {
	a := &fhir.AllergyIntolerance{ResourceType: "AllergyIntolerance", Type: get("type"), Criticality: get("criticality"),
		OnsetDateTime: get("onsetDateTime"), RecordedDate: get("recordedDate")}
	a.Code = concept(get("code.system"), get("code"), get("code.display"), get("code.text"))
	if a.Code == nil {
		return nil, []problem{{"code|code.text", "no code"}}
	}
	clinical, ver := get("clinicalStatus"), get("verificationStatus")
	switch {
	case ver == "entered-in-error":
		clinical = "" // R4 ait-2: none beside entered-in-error, whatever the row says
	case clinical == "":
		clinical = "active" // R4 ait-1: a clinical status unless entered in error
	}
	a.ClinicalStatus = coded(sysAllergyClin, clinical)
	a.VerificationStatus = coded(sysAllergyVer, ver)
	if c := get("category"); c != "" {
		a.Category = []string{c}
	}
	m, sev := get("reaction.manifestation"), get("reaction.severity")
	switch {
	case m != "":
		a.Reaction = []fhir.AllergyIntoleranceReaction{{Manifestation: []fhir.CodeableConcept{{Text: m}}, Severity: sev}}
	case sev != "":
		return nil, []problem{{"reaction.manifestation", "a reaction severity without the reaction (reaction.manifestation)"}}
	}
	a.Note = notes(vals["note"])
	return a, nil
}

func buildImmunization(get func(string) string, vals map[string][]string) (any, []problem) {
	im := &fhir.Immunization{ResourceType: "Immunization", Status: get("status"), OccurrenceDateTime: get("occurrenceDateTime"),
		Recorded: get("recorded"), PrimarySource: boolPtr(get("primarySource")), LotNumber: get("lotNumber")}
	if im.Status == "" {
		im.Status = "completed"
	}
	if im.PrimarySource == nil {
		im.PrimarySourceElement = fhir.AbsentPrimitive("unknown") // US Core: primarySource 1..1
	}
	im.VaccineCode = concept(get("vaccineCode.system"), get("vaccineCode"), get("vaccineCode.display"), get("vaccineCode.text"))
	var ps []problem
	if im.VaccineCode == nil {
		ps = append(ps, problem{"vaccineCode|vaccineCode.text", "no vaccine code"})
	}
	if im.OccurrenceDateTime == "" {
		ps = append(ps, problem{"occurrenceDateTime", "no date given (Immunization.occurrence is required)"})
	}
	if len(ps) > 0 {
		return nil, ps
	}
	im.Site = textConcept(get("site.text"))
	im.Route = textConcept(get("route.text"))
	if v := get("doseQuantity.value"); v != "" {
		im.DoseQuantity = &fhir.Quantity{Value: json.Number(v), Unit: get("doseQuantity.unit")}
	}
	if v := get("performer.display"); v != "" {
		im.Performer = []fhir.ImmunizationPerformer{{Actor: &fhir.Reference{Display: v}}}
	}
	im.Note = notes(vals["note"])
	return im, nil
}
