package faxfhir

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir/tiffpdf"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// Document describes one document to file at the exchange as a
// DocumentReference with its Binary, whatever brought it. A fax is
// described this way (see faxDocument), and so is a document of an XDM
// package that ferry cannot convert into clinical resources (a PDF
// referral, a scanned TIFF), from its XDS metadata (see
// adapters/convert/xdmfhir). Both then become the same IHE MHD ITI-65 or
// US Core transaction under the one Config: profile, patient_link and
// binary_method mean the same for either. The sourceId is the source
// system's (SourceID), source_id only when nothing more precise is known.
//
// Every field but Open is optional; an empty one takes the default the
// comment names.
type Document struct {
	// Name names the document in errors: a file or an archive entry.
	Name string
	// Open returns the document's bytes. It is called twice, to hash them
	// and then to write them, and must give the same bytes both times.
	Open func() (io.ReadCloser, error)
	// ContentType is the attachment's and the Binary's MIME type. Empty:
	// application/pdf or image/tiff when the content starts like one,
	// else application/octet-stream.
	ContentType string
	// Patient is the document's patient. Nil (or one without a system or
	// value) files the document without a subject, which MHD Minimal
	// allows; under us-core the DocumentReference then claims no profile.
	Patient *Patient
	// SourcePatient is the patient as the document's source knew them,
	// for the Comprehensive profile's contained Patient. Nil: Patient.
	SourcePatient *Patient
	// Type is DocumentReference.type. Nil: UnknownDocType.
	Type *fhir.CodeableConcept
	// Category is DocumentReference.category. Nil: US Core's
	// clinical-note. The MHD profiles take one category (XDS classCode):
	// there the first that is not clinical-note is sent alone.
	Category []fhir.CodeableConcept
	// Title is the attachment's title.
	Title string
	// SubmissionTitle is the MHD SubmissionSet's title.
	SubmissionTitle string
	// SourceID is the MHD SubmissionSet's ihe-sourceId: the OID of the
	// system the document came from (bare or urn:oid:), such as the
	// sourceId of the XDM package that carried it. Empty, or not an OID
	// (SourceOID): the Config's source_id. It feeds no identifier.
	SourceID string
	// Description is DocumentReference.description.
	Description string
	// Date is when the document was sent: DocumentReference.date, the
	// SubmissionSet's date and the bundle's timestamp. Zero: now.
	Date time.Time
	// Created is attachment.creation, a FHIR dateTime. Empty: Date.
	Created string
	// MasterIdentifier is the document's own unique id (use usual). Nil:
	// an OID derived from the content's SHA-256, as for a fax.
	MasterIdentifier *fhir.Identifier
	// Identifier is the DocumentReference's official identifier. Nil: a
	// UUID derived like the master identifier.
	Identifier *fhir.Identifier
	// Security is securityLabel and meta.security (of the bundle, the
	// DocumentReference, the Binary and a Patient it creates). Without a
	// v3-Confidentiality code the Config's confidentiality comes first.
	Security []fhir.Coding
	// Author is DocumentReference.author; it has no default, since only
	// the source knows who wrote a document.
	Author []fhir.Reference
	// Custodian is DocumentReference.custodian. Nil: the Config's.
	Custodian *fhir.Reference
	// Language is attachment.language. Empty: the Config's.
	Language string
	// Format is content.format. Nil: urn:ihe:iti:xds:2017:mimeTypeSufficient.
	Format *fhir.Coding
	// FacilityType and PracticeSetting go to context (XDS
	// healthcareFacilityTypeCode, practiceSettingCode) under every
	// profile; mhd-comprehensive requires them. Nil: the Config's.
	FacilityType, PracticeSetting *fhir.CodeableConcept
	// Period and Event are context.period and context.event: when the
	// care the document records was given and what it was (XDS
	// serviceStartTime and serviceStopTime, eventCodeList), under every
	// profile. Nil: none.
	Period *fhir.Period
	Event  []fhir.CodeableConcept
	// RelatesTo is DocumentReference.relatesTo: the documents this one
	// replaces, appends, transforms or signs, as its source says.
	RelatesTo []fhir.DocumentReferenceRelates
	// Superseded writes the DocumentReference with status superseded
	// instead of current: its source (or a replacement that came first)
	// says a later version replaced it.
	Superseded bool
	// Supersedes are the request URLs of the DocumentReferences this
	// document replaces, which Result.Supersede's batch marks superseded.
	Supersedes []string
	// Replaces are keys for the registry of replaced documents, copied
	// to Result.Replaces: the caller that reads the registry makes them.
	Replaces []string
	// Versions are the registry keys this document is known by while it
	// is written current, copied to Result.Versions: the caller that
	// reads the registry makes them.
	Versions []string

	// extension holds the fax receipt: only the fax path sets it.
	extension []ext
}

// Patient names a document's patient by one identifier, with what the
// source says of them besides: a name ("Family, Given" is split as such)
// and a birth date (YYYY-MM-DD or YYYYMMDD). All of it is PHI.
type Patient struct {
	System, Value   string
	Name, BirthDate string
}

// usCoreClinicalNote is the category the fax path always gives, and the
// one US Core's DocumentReference category slice asks for.
var usCoreClinicalNote = fhir.CodeableConcept{Coding: []fhir.Coding{{
	System: "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", Code: "clinical-note", Display: "Clinical Note"}}}

// CategoryClinicalNote returns US Core's clinical-note category, for a
// Document that adds categories of its own beside it.
func CategoryClinicalNote() fhir.CodeableConcept {
	return fhir.CodeableConcept{Coding: append([]fhir.Coding(nil), usCoreClinicalNote.Coding...)}
}

// withDefaults fills the fields d leaves empty from cfg (itself with its
// defaults).
func (d Document) withDefaults(cfg Config) Document {
	if d.Patient != nil && (d.Patient.System == "" || d.Patient.Value == "") {
		d.Patient = nil
	}
	if d.Type == nil {
		d.Type = &fhir.CodeableConcept{Coding: []fhir.Coding{UnknownDocType}}
	}
	if d.Category == nil {
		d.Category = []fhir.CodeableConcept{CategoryClinicalNote()}
	}
	// DS4P wants exactly one v3-Confidentiality code among the labels: a
	// document whose source gave none (or only codes of other systems)
	// gets the configured one first.
	if !slices.ContainsFunc(d.Security, func(c fhir.Coding) bool { return fhir.ConfidentialityOf(c) >= 0 }) {
		d.Security = append([]fhir.Coding{{System: confidentialityCS, Code: cfg.Confidentiality}}, d.Security...)
	}
	d.Security = fhir.OneConfidentiality(d.Security)
	if d.Custodian == nil {
		if c := orgRefs(cfg.Custodian); len(c) > 0 {
			d.Custodian = &c[0]
		}
	}
	if d.Language == "" {
		d.Language = cfg.Language
	}
	if d.Format == nil {
		d.Format = &fhir.Coding{System: "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", Code: "urn:ihe:iti:xds:2017:mimeTypeSufficient", Display: "mimeType Sufficient"}
	}
	if d.FacilityType == nil {
		d.FacilityType = concept(cfg.FacilityType)
	}
	if d.PracticeSetting == nil {
		d.PracticeSetting = concept(cfg.PracticeSetting)
	}
	if d.Date.IsZero() {
		d.Date = time.Now()
	}
	if oid, ok := SourceOID(d.SourceID); ok {
		d.SourceID = oid
	} else {
		d.SourceID = cfg.SourceID
	}
	return d
}

// WriteDocument writes the transaction Bundle for d as JSON to w, its
// Binary data base64-encoded as it streams from d.Open, so memory use
// does not grow with the document. The document's bytes are read twice
// (hash, then write); if they differ the result is ErrChanged and what was
// written must be discarded. Result.Format is the content type.
//
// The identifiers not given in d derive from the content's SHA-256 and
// the master identifier, so the same document sent again is the same
// bundle, as for a fax.
func (c *Converter) WriteDocument(ctx context.Context, w io.Writer, d Document) (Result, error) {
	p, err := c.planDocument(ctx, d)
	if err != nil {
		return Result{}, err
	}
	return p.stream(ctx, w, "document "+d.Name)
}

// planDocument reads and hashes d's content and builds its bundle, Binary
// data left empty.
func (c *Converter) planDocument(ctx context.Context, d Document) (*plan, error) {
	what := "document " + d.Name
	if d.Open == nil {
		return nil, fmt.Errorf("%s: %w", what, errors.New("no content"))
	}
	read := func(w io.Writer) error {
		rc, err := d.Open()
		if err != nil {
			return fmt.Errorf("%s: open: %w", what, err)
		}
		defer rc.Close()
		if _, err := io.Copy(w, rc); err != nil {
			return fmt.Errorf("%s: read: %w", what, err)
		}
		return nil
	}
	ct := d.ContentType
	if ct == "" {
		var head headWriter
		if err := read(&head); err != nil && !errors.Is(err, errHeadFull) {
			return nil, err
		}
		switch {
		case bytes.HasPrefix(head.b, []byte("%PDF-")):
			ct = "application/pdf"
		case tiffpdf.IsTIFF(head.b):
			ct = "image/tiff"
		default:
			ct = "application/octet-stream"
		}
	}
	cont := &content{name: what, contentType: ct, gen: read}
	var err error
	if cont.size, cont.sha1, cont.sha256, err = digest(ctx, read); err != nil {
		return nil, err
	}
	retied, err := c.retie(&d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	h := hex.EncodeToString(cont.sha256)
	seed := "document:" + h
	if m := d.MasterIdentifier; m != nil {
		seed += ":" + m.System + "|" + m.Value
	} else {
		// No business id: the bytes and the patient (the same form in
		// two patients' packages is two documents; see patientSeed).
		seed += patientSeed(d.Patient)
	}
	u := newID(seed)
	pt := part{c: cont, fullURL: u.URN(), binID: newID("binary:" + seed),
		master:   fhir.Identifier{Use: "usual", System: rfc3986, Value: u.OID()},
		official: fhir.Identifier{Use: "official", System: rfc3986, Value: u.URN()}}
	if m := d.MasterIdentifier; m != nil {
		pt.master = *m
		if pt.master.Use == "" {
			pt.master.Use = "usual"
		}
	}
	if o := d.Identifier; o != nil {
		pt.official = *o
		if pt.official.Use == "" {
			pt.official.Use = "official"
		}
	}
	p := c.assemble(d, seed, []part{pt}, Result{SHA256: h, Format: ct, Retied: retied, Replaces: d.Replaces, Versions: d.Versions})
	p.res.Supersede = SupersedeBatch(&p.bundle, d.Supersedes)
	return p, nil
}

// supersedePatch replaces the status and nothing else; applied again (a
// redelivery) it changes nothing more.
var supersedePatch = []byte(`[{"op":"replace","path":"/status","value":"superseded"}]`)

// SupersedeBatch returns the batch Bundle that marks the DocumentReferences
// at urls superseded, or nil when there are none: FHIR R4 gives
// DocumentReference.status superseded for a reference another replaced,
// and IHE MHD (ITI-65, as XDS's RPLC association deprecates the old
// entry) has the Document Source mark it so itself, with a PATCH. It is
// the counterpart of ccdafhir.SupersedeBatch and is queued the same way:
// after b, as a batch of its own marked queue.AttrMissingOK, since the
// replaced version may never have reached the exchange and its PATCH then
// answers 404 alone. It carries b's security labels (a disclosure policy
// that holds the document holds this change too) and b's identifier with
// "#supersede" appended.
func SupersedeBatch(b *fhir.Bundle, urls []string) *fhir.Bundle {
	return fhir.PatchBatch(b, "#supersede", len(urls), func(i int) (string, []byte) { return urls[i], supersedePatch })
}

// errHeadFull stops reading once headWriter has what it needs.
var errHeadFull = errors.New("head read")

// headWriter keeps the first bytes written to it, enough to tell a PDF or
// a TIFF.
type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	n := min(len(p), 8-len(h.b))
	h.b = append(h.b, p[:n]...)
	if len(h.b) == 8 {
		return n, errHeadFull
	}
	return len(p), nil
}
