// Package ccdafhir converts C-CDA R1.1 and R2.1 documents (CCD, Referral,
// Discharge Summary, Progress, Consultation, H&P, Transfer Summary, Care Plan,
// Unstructured Document...) to a FHIR R4 transaction Bundle, following the
// HL7 C-CDA on FHIR mappings.
//
// The document is decoded as a token stream: the header elements and every
// section entry are decoded one at a time with DecodeElement, and narrative
// blocks are skipped, so memory beyond the input and the output stays
// bounded by the largest single entry. Ids are UUIDv5 values derived from
// business identifiers (document id, entry ids), so converting the same
// document twice yields the same Bundle byte for byte, and re-sending it
// changes nothing at the receiver.
package ccdafhir

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/config/configtext"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/google/uuid"
)

// Mode selects how bundle entries are applied at the receiver.
type Mode int

const (
	// ModePutID gives every resource its deterministic UUIDv5 as id and
	// sends "PUT Type/<id>", referencing others as "Type/<id>". It has no
	// limit on the number of entries that matter (Medplum allows at most 8
	// conditional entries per transaction) and the bundle can be split
	// into smaller transactions with Split.
	ModePutID Mode = iota
	// ModeConditional sends "PUT Type?identifier=system|value" without
	// resource ids and references entries by their urn:uuid fullUrl.
	ModeConditional
	// ModePatientConditional writes the Patient as in ModeConditional
	// (found by identifier at the exchange, referred to by urn:uuid) and
	// everything else as in ModePutID, as the HL7 v2 converter's
	// ModePatientConditional does, so a patient that came in by HL7 v2 and
	// one from a C-CDA document land on one record. Parts splits such a
	// bundle into transactions of at most 8 entries that each repeat the
	// Patient entry.
	ModePatientConditional
)

// Options tunes a conversion. The zero value is ready to use.
type Options struct {
	// MaxBytes bounds the input size; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Mode selects PUT Type/id (default) or conditional PUT.
	Mode Mode
	// SSN says when a US SSN is sent as a Patient identifier.
	SSN SSNPolicy
	// MedicationRequestsOnly writes every Medication Activity as a
	// MedicationRequest, as C-CDA on FHIR and US Core (which has no
	// MedicationStatement profile) do: moodCode EVN becomes intent "plan",
	// INT intent "order". By default EVN (a medication the patient takes or
	// took) becomes a MedicationStatement.
	MedicationRequestsOnly bool
	// NoBinary leaves out the Binary holding the original document
	// (the DocumentReference then has no attachment url).
	NoBinary bool
	// Replaced reports whether a document that replaces the version
	// whose key is key (a key Result.Replaces gave, made from its
	// document id and its patient) has already been accepted. Such a
	// version is written superseded, never current: a replaced version
	// that arrives after its replacement (a backfill of old exports in
	// folder order, a retried input) would otherwise leave the exchange
	// two current versions of one document, since the replacement's
	// PATCH found nothing to supersede then. The gateway passes the
	// durable registry of replaced versions (queue/replaced); nil (as in
	// ferry convert) knows of none.
	Replaced func(key string) bool
	// Related are relations of the document that its envelope states
	// besides its own relatedDocument elements: the Associations an XDM
	// package's METADATA.XML gives (RPLC from the document to the one it
	// replaces, and so on). Each is treated as a relatedDocument with
	// that typeCode and parentDocument id would be.
	Related []RelatedDocument
	// Base names this gateway in the Provenance's transmitter agent: the
	// site's identifier base (config.IdentifierBase), as the HL7 v2
	// converter's Provenance names it; "" means urn:ferry.
	Base string
	// Labels are security labels the document's envelope gives it (the
	// confidentialityCodes of an XDM package's DocumentEntry, where a
	// Direct sender labels it): they label the whole document as its
	// Privacy Markings section's do, and raise its confidentiality.
	Labels []fhir.Coding
	// Merges, when set, names the patient identifiers earlier merges
	// (HL7 v2 ADT^A40, A47) retired (the gateway's data_dir/merges.log).
	// A document whose recordTarget is keyed by one is filed to the
	// record that survived the merge, as if it named that record: its
	// entries refer to the survivor and are scoped and ordered by its
	// key, and the retired Patient is not written (a PUT would make it
	// active again and drop its replaced-by link), nor is the survivor
	// rewritten from this document (see retie). Nil (`ferry convert`):
	// the recordTarget is taken as it is.
	Merges MergeLookup
}

// MergeLookup answers which record a retired patient identifier was
// merged into (merges.Registry; the same method as v2fhir.MergeLookup,
// declared here so that this package needs no other converter).
type MergeLookup interface {
	// Survivor follows the chain of merges from id to the record that
	// survived them all; ok is false when id is not retired.
	Survivor(id merges.ID) (survivor merges.ID, ok bool, err error)
}

// MergedLookup is what a MergeLookup may also answer (merges.Registry
// does; the same method as v2fhir.MergedLookup): the identifiers merged
// directly into a record. The record's Patient, written whole from a
// later document, keeps a replaces link to each (replacesLinks).
type MergedLookup interface {
	Merged(survivor merges.ID) []merges.ID
}

// SSNPolicy says whether Patient.identifier carries the SSN.
type SSNPolicy int

const (
	// SSNIfOnly keeps the SSN only when the patient has no other
	// identifier to be matched on (the default).
	SSNIfOnly SSNPolicy = iota
	// SSNKeep always keeps it.
	SSNKeep
	// SSNDrop never sends it (US Core: SHOULD NOT).
	SSNDrop
)

// DefaultMaxBytes is the input size limit when Options.MaxBytes is 0.
const DefaultMaxBytes = 32 << 20

// Result describes a finished conversion without PHI.
type Result struct {
	// PatientKey is an opaque, PHI-free key for the patient
	// (fhir.PatientKey of its business identifier), for per-patient
	// ordering.
	PatientKey string
	// PatientIdentifier is the identifier PatientKey hashes (System and
	// Value only): PHI, for the audit trail. Never log it.
	PatientIdentifier fhir.Identifier
	// DocumentType is the LOINC code of ClinicalDocument/code, e.g. 34133-9.
	DocumentType string
	// DocumentKind names the C-CDA document template, e.g. "CCD".
	DocumentKind string
	// Version is "R2.1", "R2.0" or "R1.1" (from templateId extensions).
	Version string
	// Counts holds the number of resources produced, by resource type.
	Counts map[string]int
	// Skipped counts entries that were not converted (family history,
	// functional status, goals, planned procedures...), which reach the
	// exchange only inside the attached document. A key names the
	// section by its LOINC code (else "section" and its template root),
	// then the entry by element and template root, or by what was
	// missing: "10157-6 organizer 2.16.840.1.113883.10.20.22.4.45",
	// "18776-5 planned procedure". Keys hold only codes, OIDs and fixed
	// words, never document text, so they may be logged.
	Skipped map[string]int
	// Supersedes holds the request URLs (DocumentReference/<id>, or a
	// search by identifier in ModeConditional) of the DocumentReferences
	// of the documents this one replaces (relatedDocument RPLC), as ferry
	// wrote them (for this patient, and for each record merged into it,
	// where a version filed before the merge is); SupersedeBatch makes
	// the batch that marks them superseded.
	Supersedes []string
	// Replaces holds the version keys of the documents this one replaces
	// (one per Supersedes entry), for the registry of replaced versions
	// that Options.Replaced reads: the pipeline records them once this
	// document is stored. A key is an opaque, PHI-free string.
	Replaces []string
	// VersionKey is the version key of this document (as Replaces holds
	// them) when its DocumentReference is written current: were it
	// replaced after this conversion (its bundle dead-lettered, retried
	// once the replacement was delivered), the registry's knowing this
	// key is what tells.
	VersionKey string
	// Superseded reports that Options.Replaced knew this document as
	// replaced, so its DocumentReference was written superseded.
	Superseded bool
	// Retied is 1 when the recordTarget's identifier was retired by an
	// earlier merge and the document was filed to the survivor
	// (Options.Merges), else 0.
	Retied int
}

// RelatedDocument is a relation of the document stated outside it
// (Options.Related): a relatedDocument typeCode (RPLC, APND, XFRM) and
// the parent document's id, an II.
type RelatedDocument struct {
	TypeCode        string
	Root, Extension string
}

// PathError reports a problem at an element of the document.
type PathError struct {
	Path string
	Err  error
}

func (e *PathError) Error() string { return "ccda " + e.Path + ": " + e.Err.Error() }
func (e *PathError) Unwrap() error { return e.Err }

// xmlError describes the decoder's error err by its line and a kind that
// quotes nothing of the document: encoding/xml's own messages quote the
// text around the fault ("invalid character entity &Jones" of a name
// written Smith&Jones, "element <Jane> closed by </family>" of a bare <
// in a name), and the text is the patient's, while this error is what
// `ferry quarantine list` shows. The decoder's error stays reachable
// through Unwrap.
func xmlError(err error) error {
	var se *xml.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("xml: %w", err)
	}
	msg := se.Msg
	switch {
	case strings.HasPrefix(msg, "invalid character entity"):
		msg = "an & that begins no character entity (write & in text as &amp;)"
	case strings.HasPrefix(msg, "element <"), strings.HasPrefix(msg, "unexpected end element"),
		strings.HasPrefix(msg, "invalid characters between </"), strings.HasPrefix(msg, "invalid XML name"):
		msg = "an element's end tag does not match its start, or a < in text is not written &lt;"
	}
	return &xmlSyntaxError{msg: fmt.Sprintf("xml: syntax error on line %d: %s", se.Line, msg), err: err}
}

// xmlSyntaxError is xmlError's description of a *xml.SyntaxError.
type xmlSyntaxError struct {
	msg string
	err error
}

func (e *xmlSyntaxError) Error() string { return e.msg }
func (e *xmlSyntaxError) Unwrap() error { return e.err }

// Errors callers may test for with errors.Is.
var (
	ErrTooLarge  = errors.New("document exceeds the size limit")
	ErrEntity    = errors.New("DOCTYPE with entity declarations is not allowed")
	ErrNotCDA    = errors.New("not a CDA ClinicalDocument")
	ErrNoPatient = errors.New("no recordTarget/patientRole")
	// ErrSeveralPatients: the document is placed in more than one
	// patient's chart (a group note), which ferry, filing a document to
	// one patient, cannot do.
	ErrSeveralPatients = errors.New("a second recordTarget names another patient: the document belongs to several patients' charts, and ferry files a document to one; send one document per patient")
	errNoDocument      = errors.New("no ClinicalDocument element")
)

// namespace is the UUIDv5 namespace of ferry's C-CDA conversion.
var namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://ferry-health.github.io/ccdafhir"))

// Convert reads one C-CDA document from r and converts it to a FHIR R4
// transaction Bundle.
func Convert(r io.Reader, opts Options) (*fhir.Bundle, Result, error) {
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	raw, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, Result{}, fmt.Errorf("ccda read: %w", err)
	}
	if int64(len(raw)) > max {
		return nil, Result{}, fmt.Errorf("ccda read: %w (%d bytes)", ErrTooLarge, max)
	}
	return ConvertBytes(raw, opts)
}

// ConvertBytes is Convert for a document already in memory; raw is kept
// (not copied) as the Binary's content and must not change afterwards.
func ConvertBytes(raw []byte, opts Options) (*fhir.Bundle, Result, error) {
	if opts.MaxBytes > 0 && int64(len(raw)) > opts.MaxBytes {
		return nil, Result{}, fmt.Errorf("ccda read: %w (%d bytes)", ErrTooLarge, opts.MaxBytes)
	}
	c := newConverter(raw, opts)
	if err := c.run(); err != nil {
		return nil, Result{}, err
	}
	b := c.bundle()
	return b, c.res, nil
}

// converter holds the state of one conversion.
type converter struct {
	opts Options
	raw  []byte
	in   *docReader // the decoder's input, nil once it reads it transcoded
	res  Result

	// Header facts.
	docID        ii
	docIdent     fhir.Identifier
	docKey       string
	setKey       string         // scope of minted ids: the setId, else docKey
	occ          map[string]int // entryKey counts
	docCode      *cd
	title        string
	effective    string
	effectiveRaw string
	conf         *cd
	lang         string
	setID        *ii
	version      string
	templates    []ii
	target       *recordTarget
	targets      int // the recordTargets read
	authors      []author
	custodian    *custodian
	legal        *legalAuthenticator
	docOf        []documentationOf
	related      []relatedDocument
	componOf     *componentOf
	headerDone   bool

	// Output.
	patient      *patientState
	encounter    string // reference to the encompassing encounter
	headerEnc    *fhir.Encounter
	curEncounter string       // encounter activity being converted
	panelTime    string       // time of the Vital Signs Organizer being converted:
	panelPeriod  *fhir.Period // its members' own when they give none
	entries      map[string][]fhir.BundleEntry
	observations map[string]*fhir.Observation // entries' Observations by fullUrl (observationAt)
	seen         map[string]bool
	hwm          int
	docLabels    *fhir.Labels         // DS4P privacy annotations of the whole document
	curLabels    *fhir.Labels         // those of the entry being converted
	entryLabels  []*fhir.Labels       // every entry's, in document order
	resLabels    map[any]*fhir.Labels // resource → its entry's annotations
	nonXML       *ed
	narr         map[string]string // narrative IDs of the current section
	pathBuf      []string
	sectionSeq   int
	skipSection  string // sectionLabel of the entry being converted
	zone         string // docZone of the effectiveTime: times without a zone are in it

	// practitionersByID refers to the entries' Practitioners by each of
	// their identifiers, headerIDs to the header's people (byID).
	practitionersByID map[idKey][]*fhir.Reference
	headerIDs         map[idKey][]*assigned
	resources         map[string]any // the first resource added under each fullUrl (entryAt)
	headerEncKeys     *encounterKeys // headerEnc's participants and locations (mergeEncounter)
	headerEncIDs      map[idKey]bool // headerEnc's identifiers (ofHeaderVisit)
}

// typeOrder is the order of resource types in the Bundle: referenced
// resources come before those that reference them, so a receiver with
// referential integrity (or a split bundle) sees targets first.
var typeOrder = []string{
	"Patient", "Organization", "Practitioner", "Encounter", "Medication",
	"Condition", "AllergyIntolerance", "MedicationStatement", "MedicationRequest",
	"Immunization", "Procedure", "Observation", "DiagnosticReport",
	"Binary", "DocumentReference", "Provenance",
}

func newConverter(raw []byte, opts Options) *converter {
	c := &converter{
		opts:      opts,
		raw:       raw,
		entries:   make(map[string][]fhir.BundleEntry, len(typeOrder)),
		seen:      make(map[string]bool, 64),
		res:       Result{Counts: map[string]int{}, Skipped: map[string]int{}},
		hwm:       -1,
		docLabels: fhir.NewLabels(),
	}
	for _, l := range opts.Labels {
		c.docLabels.AddCoding(l)
		if fhir.CodingKind(l) == 0 {
			c.observeConf(&cd{Code: l.Code})
		}
	}
	return c
}

// run decodes the document.
func (c *converter) run() error {
	// A UTF-16 document (Notepad's "Unicode", PowerShell's Out-File) is
	// read as UTF-8, which Go's decoder reads: XML 1.0 §4.3.3 has every
	// XML processor read both.
	text, err := configtext.UTF8(c.raw)
	if err != nil {
		return &PathError{Path: "/", Err: err}
	}
	c.in = &docReader{b: text}
	d := xml.NewDecoder(c.in)
	d.Strict = true
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		r, err := configtext.CharsetReader(label, in)
		if r != in {
			c.in = nil // the decoder reads the document transcoded
		}
		return r, err
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return &PathError{Path: "/", Err: errNoDocument}
		}
		if err != nil {
			return &PathError{Path: "/", Err: xmlError(err)}
		}
		switch t := tok.(type) {
		case xml.Directive:
			if err := checkDirective(t); err != nil {
				return &PathError{Path: "/", Err: err}
			}
		case xml.StartElement:
			if t.Name.Local != "ClinicalDocument" || (t.Name.Space != nsV3 && t.Name.Space != "") {
				return &PathError{Path: "/" + t.Name.Local, Err: ErrNotCDA}
			}
			if err := c.document(d, t); err != nil {
				return err
			}
			return c.finish()
		}
	}
}

// checkDirective rejects DOCTYPEs that declare entities: Go's decoder never
// expands them (an undeclared entity is a syntax error in strict mode), but
// a document that tries is hostile or broken either way.
func checkDirective(dir xml.Directive) error {
	up := bytes.ToUpper(dir)
	if bytes.Contains(up, []byte("ENTITY")) {
		return ErrEntity
	}
	if bytes.HasPrefix(bytes.TrimSpace(up), []byte("DOCTYPE")) && bytes.Contains(up, []byte("[")) {
		return fmt.Errorf("DOCTYPE with an internal subset is not allowed")
	}
	return nil
}

// path renders the current element path for errors.
func (c *converter) path(more ...string) string {
	return "/" + strings.Join(append(append([]string(nil), c.pathBuf...), more...), "/")
}

func (c *converter) push(s string) { c.pathBuf = append(c.pathBuf, s) }
func (c *converter) pop()          { c.pathBuf = c.pathBuf[:len(c.pathBuf)-1] }

// decode decodes one element into v, naming the path on error.
func (c *converter) decode(d *xml.Decoder, v any, start xml.StartElement, name string) error {
	if err := d.DecodeElement(v, &start); err != nil {
		return &PathError{Path: c.path(name), Err: xmlError(err)}
	}
	return nil
}

// eachChild calls fn for each child element of the element just started
// and returns after its end tag, so every level of the document walk reads
// the token stream the same way and keeps one element in memory at a time.
// fn must consume the whole child (decode, skip or walk it); the next end
// tag is then the parent's own. A decoder error names the parent's path.
func (c *converter) eachChild(d *xml.Decoder, fn func(xml.StartElement) error) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return &PathError{Path: c.path(), Err: xmlError(err)}
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if err := fn(t); err != nil {
				// A child fn skipped (d.Skip) failed in the decoder.
				var pe *PathError
				var se *xml.SyntaxError
				if !errors.As(err, &pe) && errors.As(err, &se) {
					return &PathError{Path: c.path(t.Name.Local), Err: xmlError(err)}
				}
				return err
			}
		}
	}
}

// document walks the ClinicalDocument's children.
func (c *converter) document(d *xml.Decoder, start xml.StartElement) error {
	c.push("ClinicalDocument")
	defer c.pop()
	return c.eachChild(d, func(t xml.StartElement) error {
		name := t.Name.Local
		// A header element may add people (an author after the body):
		// byID's index of them is made again.
		c.headerIDs = nil
		if t.Name.Space != nsV3 && t.Name.Space != "" {
			if err := d.Skip(); err != nil {
				return &PathError{Path: c.path(name), Err: xmlError(err)}
			}
			return nil
		}
		var err error
		switch name {
		case "templateId":
			var x ii
			err = c.decode(d, &x, t, name)
			c.templates = append(c.templates, x)
		case "id":
			err = c.decode(d, &c.docID, t, name)
		case "code":
			c.docCode = &cd{}
			err = c.decode(d, c.docCode, t, name)
		case "title":
			var s struct {
				Text string `xml:",chardata"`
			}
			err = c.decode(d, &s, t, name)
			c.title = clean(s.Text)
		case "effectiveTime":
			var x ts
			err = c.decode(d, &x, t, name)
			// The document's zone is set first: its own time keeps
			// its zone either way, and every time after it (the
			// header's, the entries') that has none is meant in it.
			c.zone = docZone(x.Value)
			c.effective = c.tsValue(&x)
			c.effectiveRaw = x.Value
		case "confidentialityCode":
			c.conf = &cd{}
			err = c.decode(d, c.conf, t, name)
		case "languageCode":
			var x cd
			err = c.decode(d, &x, t, name)
			c.lang = x.Code
		case "setId":
			c.setID = &ii{}
			err = c.decode(d, c.setID, t, name)
		case "versionNumber":
			var x struct {
				Value string `xml:"value,attr"`
			}
			err = c.decode(d, &x, t, name)
			c.version = x.Value
		case "recordTarget":
			var x recordTarget
			err = c.decode(d, &x, t, name)
			c.targets++
			switch {
			case c.target == nil:
				c.target = &x
			case err == nil && !c.samePatient(c.target, &x):
				// Its entries are each patient's (CDA: recordTargets
				// propagate to nested content); filed to the first
				// alone, the other's chart would lack them unseen.
				err = &PathError{Path: c.path(name + "[" + strconv.Itoa(c.targets) + "]"), Err: ErrSeveralPatients}
			}
		case "author":
			var x author
			err = c.decode(d, &x, t, name)
			c.authors = append(c.authors, x)
		case "custodian":
			c.custodian = &custodian{}
			err = c.decode(d, c.custodian, t, name)
		case "legalAuthenticator":
			c.legal = &legalAuthenticator{}
			err = c.decode(d, c.legal, t, name)
		case "documentationOf":
			var x documentationOf
			err = c.decode(d, &x, t, name)
			c.docOf = append(c.docOf, x)
		case "relatedDocument":
			var x relatedDocument
			err = c.decode(d, &x, t, name)
			c.related = append(c.related, x)
		case "componentOf":
			c.componOf = &componentOf{}
			err = c.decode(d, c.componOf, t, name)
		case "component":
			if err := c.header(); err != nil {
				return err
			}
			c.push("component")
			err = c.body(d)
			c.pop()
		default:
			if err := d.Skip(); err != nil {
				return &PathError{Path: c.path(name), Err: xmlError(err)}
			}
		}
		return err
	})
}

// body walks ClinicalDocument/component: a structuredBody or nonXMLBody.
func (c *converter) body(d *xml.Decoder) error {
	return c.eachChild(d, func(t xml.StartElement) error {
		switch t.Name.Local {
		case "structuredBody":
			c.push("structuredBody")
			err := c.structuredBody(d)
			c.pop()
			return err
		case "nonXMLBody":
			c.push("nonXMLBody")
			defer c.pop()
			return c.eachChild(d, func(t xml.StartElement) error {
				if t.Name.Local != "text" {
					return d.Skip()
				}
				x := &ed{}
				if c.in != nil {
					x.data = c.in.takeB64(d, t)
				}
				err := c.decode(d, x, t, "text")
				if x.data != nil {
					x.Text = "" // the line breaks the decoder read in its place
				}
				c.nonXML = x
				return err
			})
		default:
			return d.Skip()
		}
	})
}

// structuredBody walks component/section elements.
func (c *converter) structuredBody(d *xml.Decoder) error {
	n := 0
	return c.eachChild(d, func(t xml.StartElement) error {
		if t.Name.Local != "component" {
			return d.Skip()
		}
		n++
		c.push("component[" + strconv.Itoa(n) + "]")
		err := c.sectionHolder(d, nil)
		c.pop()
		return err
	})
}

// sectionHolder reads a component element whose child is a section.
func (c *converter) sectionHolder(d *xml.Decoder, parent *section) error {
	return c.eachChild(d, func(t xml.StartElement) error {
		if t.Name.Local != "section" {
			return d.Skip()
		}
		c.push("section")
		err := c.section(d, parent)
		c.pop()
		return err
	})
}

// maxSectionDepth bounds how deep sections nest. Each level is a level of
// recursion (section, sectionHolder), and a document of a few MB of
// nested sections would otherwise exhaust the stack, which kills the
// process; C-CDA nests sections a few levels deep.
const maxSectionDepth = 50

// section is what the converter knows about the section an entry is in.
type section struct {
	templates []ii
	code      *cd
	kind      sectionKind
	parent    *section
	seq       int
	// otherSubject: the section's subject is someone other than the
	// patient, as it is for every section within it.
	otherSubject bool
}

// aboutOther reports whether s, or a section it is in, is about someone
// other than the patient.
func (s *section) aboutOther() bool {
	for ; s != nil; s = s.parent {
		if s.otherSubject {
			return true
		}
	}
	return false
}

// section streams one section: its code and templateId first (CDA puts
// them before entries), narrative skipped, entries converted one by one.
func (c *converter) section(d *xml.Decoder, parent *section) error {
	depth := 1
	for p := parent; p != nil; p = p.parent {
		depth++
	}
	if depth > maxSectionDepth {
		return &PathError{Path: c.path(), Err: fmt.Errorf("sections nested more than %d deep", maxSectionDepth)}
	}
	c.sectionSeq++
	s := &section{parent: parent, seq: c.sectionSeq}
	saved := c.narr
	c.narr = nil
	defer func() { c.narr = saved }()
	entries, comps := 0, 0
	return c.eachChild(d, func(t xml.StartElement) error {
		var err error
		switch t.Name.Local {
		case "templateId":
			var x ii
			err = c.decode(d, &x, t, "templateId")
			s.templates = append(s.templates, x)
			s.kind = classifySection(s)
		case "code":
			s.code = &cd{}
			err = c.decode(d, s.code, t, "code")
			s.kind = classifySection(s)
		case "entry":
			entries++
			name := "entry[" + strconv.Itoa(entries) + "]"
			var rel relationship
			if err = c.decode(d, &rel, t, name); err == nil {
				if st, _ := rel.statement(); st != nil {
					c.resolveAct(st)
				}
				c.push(name)
				err = c.entry(&rel, s)
				c.pop()
			}
		case "subject":
			var x subject
			err = c.decode(d, &x, t, "subject")
			s.otherSubject = x.other()
		case "text":
			c.narr, err = c.narrative(d)
		case "confidentialityCode":
			// A section restricted on its own raises the document's
			// high-water mark: left out, an R section of an N document
			// went out labelled N.
			var x cd
			err = c.decode(d, &x, t, "confidentialityCode")
			c.observeConf(&x)
		case "component":
			comps++
			c.push("component[" + strconv.Itoa(comps) + "]")
			err = c.sectionHolder(d, s)
			c.pop()
		default:
			err = d.Skip()
		}
		return err
	})
}

// finish builds what needs the whole document: patient extensions found in
// sections, the DocumentReference and the Binaries.
func (c *converter) finish() error {
	if err := c.header(); err != nil {
		return err
	}
	c.emitPatient()
	c.document2()
	if c.res.Superseded {
		c.keepHistory()
	}
	c.provenance()
	c.dropUnnamedPractitioners()
	for _, typ := range typeOrder {
		if n := len(c.entries[typ]); n > 0 {
			c.res.Counts[typ] = n
		}
	}
	return nil
}

// historyTypes are the resource types a version known as replaced still
// writes (keepHistory): its DocumentReference and Binary, and what they
// refer to.
var historyTypes = map[string]bool{"Patient": true, "Organization": true, "Practitioner": true, "Encounter": true,
	"Binary": true, "DocumentReference": true}

// keepHistory leaves out the entries of a version Options.Replaced knows
// as replaced: its replacement, accepted first, wrote the entries both
// carry onto the same resources (see claim), and this older version
// would put its older values back over them (a problem the replacement
// resolved made active again). They reach the exchange inside the
// attached document, and Result.Skipped counts them as "superseded
// version <type>". The encounter of the header stays, since the
// DocumentReference's context refers to it; the encounters of the
// Encounters section go with the problems their diagnoses refer to.
func (c *converter) keepHistory() {
	for _, typ := range typeOrder {
		es := c.entries[typ]
		if historyTypes[typ] && typ != "Encounter" || len(es) == 0 {
			continue
		}
		kept := es[:0]
		for _, e := range es {
			if typ == "Encounter" && c.encounter != "" && strings.HasSuffix(c.encounter, strings.TrimPrefix(e.FullURL, "urn:uuid:")) {
				// Without the diagnoses an Encounter Activity of it
				// gave (mergeEncounter): their Conditions go.
				c.headerEnc.Diagnosis = nil
				kept = append(kept, e)
				continue
			}
			c.res.Skipped["superseded version "+typ]++
		}
		c.entries[typ] = kept
	}
}

// bundle assembles the transaction in type order.
func (c *converter) bundle() *fhir.Bundle {
	n := 0
	for _, es := range c.entries {
		n += len(es)
	}
	b := &fhir.Bundle{ResourceType: "Bundle", Type: "transaction", Entry: make([]fhir.BundleEntry, 0, n),
		Timestamp: c.instant(c.effectiveRaw)}
	if c.docIdent.Value != "" {
		b.Identifier = &fhir.Identifier{System: c.docIdent.System, Value: c.docIdent.Value}
	}
	if sec := c.highWaterMark(); len(sec) > 0 {
		b.Meta = &fhir.Meta{Security: sec}
	}
	// The exchange stores each resource on its own, without the Bundle's
	// meta: every resource of a restricted document carries its label
	// itself, or it would land there as if it were normal (a downgrade,
	// STANDARDS.md §7). Normal and lower documents stay unlabelled unless
	// privacy annotations label them: the document's apply to every
	// resource, an entry's to the clinical resources made from it.
	restricted := c.hwm > fhir.ConfidentialityRank("N")
	labelled := restricted || !c.docLabels.Empty() || len(c.resLabels) > 0
	for _, typ := range typeOrder {
		if labelled {
			for _, e := range c.entries[typ] {
				c.labelEntry(typ, e.Resource, restricted)
			}
		}
		b.Entry = append(b.Entry, c.entries[typ]...)
	}
	return b
}

// labelEntry writes the labels that apply to res, a resource of type typ
// (restricted: the document is R or V).
func (c *converter) labelEntry(typ string, res any, restricted bool) {
	l := fhir.NewLabels()
	l.Merge(c.docLabels, true)
	if !directoryType(typ) {
		l.Merge(c.resLabels[res], true)
	}
	if restricted || !l.Empty() {
		l.Raise(c.hwm)
	}
	if sec := l.Coding(); sec != nil {
		labelResource(res, sec)
	}
}

// directoryType reports whether resources of type typ describe people and
// organisations rather than care: an entry's privacy annotations do not
// apply to them (the document's do).
func directoryType(typ string) bool {
	switch typ {
	case "Patient", "Practitioner", "Organization":
		return true
	}
	return false
}

// labelResource adds the labels sec (a confidentiality code first) to
// res's meta.security unless it has a confidentiality label already (the
// DocumentReference and Binary do, with every label of the document). Every
// resource this package makes has a Meta *fhir.Meta field; a Meta is
// copied, never changed in place, in case resources share one.
func labelResource(res any, sec []fhir.Coding) {
	v := reflect.ValueOf(res)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	f := v.Elem().FieldByName("Meta")
	if !f.IsValid() || !f.CanSet() || f.Type() != reflect.TypeFor[*fhir.Meta]() {
		return
	}
	var m fhir.Meta
	if old, _ := f.Interface().(*fhir.Meta); old != nil {
		for _, s := range old.Security {
			if s.System == sec[0].System {
				return
			}
		}
		m = *old
	}
	m.Security = append(append([]fhir.Coding(nil), m.Security...), sec...)
	f.Set(reflect.ValueOf(&m))
}
