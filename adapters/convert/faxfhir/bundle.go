package faxfhir

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir/tiffpdf"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
)

// Profile and code system URLs.
const (
	mhdSD             = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/"
	usCoreDocRef      = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference"
	rfc3986           = "urn:ietf:rfc:3986"
	confidentialityCS = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	// FaxExtensionURL marks the extension holding the fax call facts on the
	// DocumentReference (sub-extensions callerNumber, calledNumber, csid…).
	FaxExtensionURL = "https://ferry-health.github.io/fhir/StructureDefinition/fax-receipt"
)

// Formats of the fax content.
const (
	FormatTIFF = "tiff"
	FormatPDF  = "pdf"
)

// ErrNotFax is wrapped (as a permanent error) when the content is neither
// TIFF nor PDF.
var ErrNotFax = errors.New("content is neither tiff nor pdf")

// ErrPDFTruncated is wrapped (as a permanent error) when a PDF has no
// %%EOF marker near its end (ISO 32000-1 7.5.5: the last line of the file
// holds it; readers look in the last 1024 bytes): the file was cut short,
// or was taken while its writer still wrote it.
var ErrPDFTruncated = errors.New("pdf has no %%EOF marker in its last 1024 bytes: truncated, or still being written when it was taken")

// ErrPDFEncrypted is wrapped (as a permanent error) when a PDF opens
// only with a password (ISO 32000-1 7.6: a user password, or a security
// handler other than the standard one): nobody at the exchange could
// read it.
var ErrPDFEncrypted = errors.New("pdf is encrypted and opens only with a password, so nobody at the exchange could read it; open it with its password, save or print it as a PDF without one, and put that in the folder")

// ErrPDFNoPages is wrapped (as a permanent error) when a PDF's page tree
// counts no page (ISO 32000-1 7.7.3.2, the root Pages node's /Count):
// there is nothing in it for anyone at the exchange to read.
var ErrPDFNoPages = errors.New("pdf has no pages (its page tree counts 0), so there is nothing in it to read: the fax did not come through; ask the sender to fax it again")

// ErrChanged is returned when the content read differently on the second
// pass (the file was being rewritten): retry later.
var ErrChanged = errors.New("content changed while converting")

// Input is the fax content: R holds Size bytes. Name (a file name) is used
// only in errors.
type Input struct {
	Name string
	R    io.ReaderAt
	Size int64
}

// Result summarises one converted fax, without PHI.
type Result struct {
	// DocumentID is the masterIdentifier of the main (PDF) DocumentReference,
	// as the XDS uniqueId it stands for (documentUniqueID): its value
	// (urn:oid:..., urn:uuid:...), or root^extension for one under the
	// system urn:oid:<root>.
	DocumentID string
	// SHA256 is the hex digest of the original fax bytes.
	SHA256 string
	Format string // FormatTIFF or FormatPDF; a Document's content type
	Pages  int
	// PDFSize is the size of the PDF document (rendition or original).
	PDFSize int64
	// PatientKey is fhir.PatientKey(PatientSystem, MRN) when the fax is
	// linked to a patient; use it as queue.Item.Key so per-patient order
	// holds. It holds no MRN in clear.
	PatientKey string
	// PatientIdentifier is the identifier PatientKey hashes (System and
	// Value only): PHI, for the audit trail. Never log it.
	PatientIdentifier fhir.Identifier
	// BundleSize is the number of bytes WriteBundle wrote.
	BundleSize int64
	// Retied is 1 when the document's patient identifier was retired by
	// an earlier merge and the document was filed to the survivor
	// (Converter.Merges), else 0.
	Retied int
	// SubmissionSetID is the MHD SubmissionSet's uniqueId as the bundle
	// carries it (urn:oid:…), empty for us-core; the audit trail names it
	// in the ITI-65 Export event. It is derived from the documents, not
	// from PHI.
	SubmissionSetID string
	// Supersede is the batch that marks the DocumentReferences a
	// Document replaces (Document.Supersedes) superseded, to be queued
	// after the bundle with queue.AttrMissingOK; nil when it replaces
	// none.
	Supersede *fhir.Bundle
	// Replaces are Document.Replaces, for the registry of replaced
	// documents: the pipeline records them once the bundle is stored.
	Replaces []string
	// Versions are Document.Versions: the registry keys of the document
	// the bundle writes current, which a retry of its dead letter after
	// a replacement of it was accepted looks up (the pipeline's
	// AttrDocumentVersion).
	Versions []string
	// Create, when set, says that what was written is not a transaction
	// Bundle but one resource of this type, to be created with a POST to
	// [base]/<Create> (ProfileMHDSimplified: "DocumentReference", IHE
	// ITI-105), conditionally on the search IfNoneExist (the If-None-Exist
	// header: its masterIdentifier, content-derived, no PHI) so that a
	// redelivery finds it instead of filing it twice. See
	// queue.AttrCreate.
	Create, IfNoneExist string
}

// Converter turns faxes into FHIR bundles. It is safe for concurrent use.
type Converter struct {
	cfg Config
	// Merges, when set, names the patient identifiers earlier merges
	// (HL7 v2 ADT^A40, A47) retired (the gateway's data_dir/merges.log).
	// A fax or document filed under one is filed to the record that
	// survived the merge, as if it named that record: its subject, the
	// patient found or created in PatientLinkMatch, its ids and its
	// ordering key are the survivor's, and no entry names the retired
	// Patient (see retie). Nil (`ferry convert`): the patient is taken as
	// given. Set it before the Converter is used.
	Merges MergeLookup
	// folders maps a watched folder's name to the sourceId of the
	// documents that come from it (WithFolderSourceIDs).
	folders map[string]string
}

// WithFolderSourceIDs returns a copy of c that gives the SubmissionSets of
// documents from the named watched folders (Raw.Meta folder.MetaFolder,
// the folder's name) their own ihe-sourceId instead of the Config's
// source_id: MHD wants a broker to use a different sourceId for each
// source system, and two fax services, or an EHR's export folder beside
// the clinic's fax, are different systems. ids maps a folder name to an
// OID (bare or urn:oid:); an empty OID is left out. The folder only
// decides the sourceId: no identifier derives from it, so a folder given
// its own id later sends the same documents under the same ids.
func (c *Converter) WithFolderSourceIDs(ids map[string]string) (*Converter, error) {
	out := &Converter{cfg: c.cfg, folders: maps.Clone(c.folders), Merges: c.Merges}
	for _, name := range slices.Sorted(maps.Keys(ids)) {
		if strings.TrimSpace(ids[name]) == "" {
			continue
		}
		oid, ok := SourceOID(ids[name])
		if !ok {
			return nil, fmt.Errorf("faxfhir: source id of folder %q: %q is not an OID of at most %d characters", name, ids[name], maxSourceIDLen)
		}
		if out.folders == nil {
			out.folders = make(map[string]string, len(ids))
		}
		out.folders[name] = oid
	}
	return out, nil
}

// FolderSourceID is the sourceId WithFolderSourceIDs gave the named
// folder, or "" when it gave none (the Config's source_id then applies).
func (c *Converter) FolderSourceID(folderName string) string { return c.folders[folderName] }

// sourceIDOf is the sourceId of a Raw's documents: its folder's, or the
// Config's.
func (c *Converter) sourceIDOf(in adapters.Raw) string {
	if id := c.folders[in.Meta[folder.MetaFolder]]; id != "" {
		return id
	}
	return c.cfg.SourceID
}

// New validates cfg and returns a Converter.
func New(cfg Config) (*Converter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("faxfhir config: %w", err)
	}
	return &Converter{cfg: cfg.withDefaults()}, nil
}

var _ interface {
	Convert(context.Context, adapters.Raw) (fhir.Bundle, error)
} = (*Converter)(nil)

// Convert implements the adapters Converter contract (Raw.Meta as written
// by Fax.Meta). The returned bundle holds the content in memory; use
// WriteRaw or WriteBundle for faxes too large to hold. Unreadable content gives a queue.Permanent error.
func (c *Converter) Convert(ctx context.Context, in adapters.Raw) (fhir.Bundle, error) {
	fax := FaxFromMeta(in.Meta)
	if fax.Received.IsZero() {
		fax.Received = in.Received
	}
	input, closeIn, err := InputOf(in)
	if err != nil {
		return fhir.Bundle{}, err
	}
	defer closeIn()
	p, err := c.plan(ctx, input, fax, c.sourceIDOf(in))
	if err != nil {
		return fhir.Bundle{}, err
	}
	if p.single != nil {
		return fhir.Bundle{}, fmt.Errorf("fax %s: profile %s writes a %s, not a Bundle: use WriteRaw", in.Name, c.cfg.Profile, p.res.Create)
	}
	for _, b := range p.binaries {
		var buf bytes.Buffer
		buf.Grow(int(b.c.size))
		if err := b.c.write(ctx, &buf); err != nil {
			return fhir.Bundle{}, err
		}
		*b.data = buf.Bytes()
	}
	return p.bundle, nil
}

// WriteRaw is WriteBundle for a Raw from a fax source: the content comes
// from Raw.Body or, for files above the source's in-memory limit, Raw.Open;
// the Fax from Raw.Meta.
func (c *Converter) WriteRaw(ctx context.Context, w io.Writer, in adapters.Raw) (Result, error) {
	fax := FaxFromMeta(in.Meta)
	if fax.Received.IsZero() {
		fax.Received = in.Received
	}
	input, closeIn, err := InputOf(in)
	if err != nil {
		return Result{}, err
	}
	defer closeIn()
	return c.writeBundle(ctx, w, input, fax, c.sourceIDOf(in))
}

// InputOf gives random access to a Raw's content: Body when set, else the
// file Raw.Open returns (file sources hand over an *os.File). Call the
// returned func when done.
func InputOf(in adapters.Raw) (Input, func(), error) {
	if in.Body != nil || in.Open == nil {
		return Input{Name: in.Name, R: bytes.NewReader(in.Body), Size: int64(len(in.Body))}, func() {}, nil
	}
	rc, err := in.Open()
	if err != nil {
		return Input{}, nil, fmt.Errorf("fax %s: open: %w", in.Name, err)
	}
	ra, ok := rc.(interface {
		io.ReaderAt
		Stat() (os.FileInfo, error)
	})
	if !ok {
		rc.Close()
		return Input{}, nil, fmt.Errorf("fax %s: source stream is not a file (%T)", in.Name, rc)
	}
	st, err := ra.Stat()
	if err != nil {
		rc.Close()
		return Input{}, nil, fmt.Errorf("fax %s: stat: %w", in.Name, err)
	}
	return Input{Name: in.Name, R: ra, Size: st.Size()}, func() { rc.Close() }, nil
}

// WriteBundle writes the fax's transaction Bundle as JSON to w. The Binary
// data is base64-encoded while it streams from in.R (and, for a TIFF, while
// the PDF rendition is generated), so memory use is bounded whatever the
// fax size. The content is read twice (hash, then write); if it differs the
// result is ErrChanged and what was written must be discarded.
//
// The SubmissionSet's sourceId is the Config's; WriteRaw gives a fax from
// a folder with a source id of its own that one.
func (c *Converter) WriteBundle(ctx context.Context, w io.Writer, in Input, fax Fax) (Result, error) {
	return c.writeBundle(ctx, w, in, fax, c.cfg.SourceID)
}

func (c *Converter) writeBundle(ctx context.Context, w io.Writer, in Input, fax Fax, sourceID string) (Result, error) {
	p, err := c.plan(ctx, in, fax, sourceID)
	if err != nil {
		return Result{}, err
	}
	return p.stream(ctx, w, "fax "+in.Name)
}

// stream writes the plan's bundle (or its single resource) as JSON to w,
// each Binary's data, or the attachment's, base64-encoded as it is read
// (what names the input in errors).
func (p *plan) stream(ctx context.Context, w io.Writer, what string) (Result, error) {
	// Marshal with a placeholder in each data element, then stream the
	// real content in place of each placeholder. Each is random, one
	// nobody can know: a text before the data (an XDM package's comments,
	// an e-mailed fax's Message-ID) written as a placeholder derived from
	// the content would take the content in its place.
	marks := make([][]byte, len(p.binaries))
	for i, b := range p.binaries {
		seed := make([]byte, 30)
		rand.Read(seed)
		*b.data = seed
		marks[i] = []byte(`"` + base64.StdEncoding.EncodeToString(seed) + `"`)
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	var body any = p.bundle
	if p.single != nil {
		body = p.single
	}
	if err := enc.Encode(body); err != nil {
		return Result{}, fmt.Errorf("%s: encode bundle: %w", what, err)
	}
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	rest := js.Bytes()
	for i, b := range p.binaries {
		at := bytes.Index(rest, marks[i])
		if at < 0 {
			return Result{}, fmt.Errorf("%s: placeholder %d missing from bundle", what, i)
		}
		if _, err := bw.Write(rest[:at+1]); err != nil {
			return Result{}, fmt.Errorf("%s: write bundle: %w", what, err)
		}
		b64 := base64.NewEncoder(base64.StdEncoding, bw)
		if err := b.c.write(ctx, b64); err != nil {
			return Result{}, err
		}
		if err := b64.Close(); err != nil {
			return Result{}, fmt.Errorf("%s: write bundle: %w", what, err)
		}
		rest = rest[at+len(marks[i])-1:]
	}
	if _, err := bw.Write(rest); err != nil {
		return Result{}, fmt.Errorf("%s: write bundle: %w", what, err)
	}
	if err := bw.Flush(); err != nil {
		return Result{}, fmt.Errorf("%s: write bundle: %w", what, err)
	}
	p.res.BundleSize = cw.n
	return p.res, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// content is one document's bytes: the original fax, its PDF rendition, or
// a document described by a Document.
type content struct {
	name        string // names the input in errors: "fax <file>"
	contentType string
	size        int64
	sha1        []byte
	sha256      []byte
	gen         func(w io.Writer) error // writes the bytes
}

// write streams the bytes to w and checks they still hash the same.
func (c *content) write(ctx context.Context, w io.Writer) error {
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(w, h)}
	if err := c.gen(&ctxWriter{ctx: ctx, w: cw}); err != nil {
		return err
	}
	if cw.n != c.size || !bytes.Equal(h.Sum(nil), c.sha256) {
		return fmt.Errorf("%s: %w", c.name, ErrChanged)
	}
	return nil
}

// ctxWriter stops a long copy when the context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func digest(ctx context.Context, gen func(io.Writer) error) (size int64, s1, s256 []byte, err error) {
	h1, h256 := sha1.New(), sha256.New()
	cw := &countingWriter{w: io.MultiWriter(h1, h256)}
	if err := gen(&ctxWriter{ctx: ctx, w: cw}); err != nil {
		return 0, nil, nil, err
	}
	return cw.n, h1.Sum(nil), h256.Sum(nil), nil
}

// binaryEntry is where one document's bytes go, base64: a Binary's data,
// or the DocumentReference's attachment.data under mhd-simplified.
type binaryEntry struct {
	c    *content
	data *[]byte
}

type plan struct {
	// bundle is the transaction; when single is set (mhd-simplified) it
	// holds no entries, only the labels and the identifier the
	// supersede batch takes from it, and single is what is written.
	bundle   fhir.Bundle
	single   any
	binaries []binaryEntry
	res      Result
}

// docRef adds the elements fhir.DocumentReference leaves out.
type docRef struct {
	fhir.DocumentReference
	Contained []any `json:"contained,omitempty"`
	Extension []ext `json:"extension,omitempty"`
}

// ext is an Extension with the value types the fax receipt needs.
type ext struct {
	URL           string `json:"url"`
	ValueString   string `json:"valueString,omitempty"`
	ValueInteger  *int   `json:"valueInteger,omitempty"`
	ValueBoolean  *bool  `json:"valueBoolean,omitempty"`
	ValueDateTime string `json:"valueDateTime,omitempty"`
	Extension     []ext  `json:"extension,omitempty"`
}

// plan reads and hashes the fax and builds its bundle, Binary data left
// empty, its SubmissionSet's ihe-sourceId sourceID.
func (c *Converter) plan(ctx context.Context, in Input, fax Fax, sourceID string) (*plan, error) {
	var head [8]byte
	n, err := in.R.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		// Not "neither TIFF nor PDF": the file could not be read (a
		// share that dropped), and is read again later.
		return nil, fmt.Errorf("fax %s: read: %w", in.Name, err)
	}
	orig := &content{name: "fax " + in.Name, size: in.Size, gen: func(w io.Writer) error {
		if _, err := io.Copy(w, io.NewSectionReader(in.R, 0, in.Size)); err != nil {
			return fmt.Errorf("fax %s: read: %w", in.Name, err)
		}
		return nil
	}}
	var rendition *content
	res := Result{Pages: fax.Pages}
	switch {
	case tiffpdf.IsTIFF(head[:n]):
		tf, err := tiffpdf.Read(in.R, in.Size, in.Name)
		if adapters.IsReadError(err) {
			return nil, fmt.Errorf("fax: %w", err) // the file, not the TIFF
		}
		if err != nil {
			return nil, queue.Permanent(fmt.Errorf("fax: %w", err))
		}
		res.Format, res.Pages = FormatTIFF, len(tf.Pages)
		orig.contentType = "image/tiff"
		rendition = &content{name: "fax " + in.Name, contentType: "application/pdf", gen: func(w io.Writer) error {
			_, err := tiffpdf.WritePDF(w, in.R, tf)
			return err
		}}
	case bytes.HasPrefix(head[:n], []byte("%PDF-")):
		if err := pdfComplete(in); err != nil {
			return nil, err
		}
		if err := pdfOpens(in); err != nil {
			return nil, err
		}
		pages, err := pdfHasPages(in)
		if err != nil {
			return nil, err
		}
		if pages > 0 {
			// The document has the pages it holds, as a TIFF's.
			res.Pages = pages
		}
		res.Format = FormatPDF
		orig.contentType = "application/pdf"
	default:
		return nil, queue.Permanent(fmt.Errorf("fax %s: %w", in.Name, ErrNotFax))
	}
	if orig.size, orig.sha1, orig.sha256, err = digest(ctx, orig.gen); err != nil {
		return nil, err
	}
	if rendition != nil {
		if rendition.size, rendition.sha1, rendition.sha256, err = digest(ctx, rendition.gen); err != nil {
			return nil, err
		}
	}
	h := hex.EncodeToString(orig.sha256)
	res.SHA256 = h
	if fax.Received.IsZero() {
		fax.Received = time.Now()
	}

	// Documents: the PDF (rendition or original) first, then the original
	// TIFF when kept. Their ids derive from the fax's digest and the
	// patient it is filed to (patientSeed), so the same fax received again
	// is the same document, and the same form faxed for two patients is
	// two: the DocumentReference is a conditional create on its
	// masterIdentifier, so one id for both left the second patient's
	// unfiled. The sourceId is not part of the seed: the fax's ids stay
	// what they were whichever folder, and source id, it came by.
	d := c.faxDocument(fax, res.Pages)
	d.SourceID = sourceID
	if res.Retied, err = c.retie(&d); err != nil {
		return nil, fmt.Errorf("fax %s: %w", in.Name, err)
	}
	seed := h + patientSeed(d.Patient)
	var parts []part
	if rendition != nil {
		parts = append(parts, faxPart(rendition, "pdf", seed))
		if c.cfg.keepOriginal() {
			parts = append(parts, faxPart(orig, "orig", seed))
		}
	} else {
		parts = append(parts, faxPart(orig, "pdf", seed))
	}
	return c.assemble(d, seed, parts, res), nil
}

// pdfComplete checks that the PDF in ends as a PDF does, with %%EOF in
// its last 1024 bytes, so a file cut short is not filed at the exchange
// as a document nobody can open (a cut TIFF fails in tiffpdf.Read).
func pdfComplete(in Input) error {
	tail := make([]byte, min(in.Size, 1024))
	if _, err := in.R.ReadAt(tail, in.Size-int64(len(tail))); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("fax %s: read: %w", in.Name, err)
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return queue.Permanent(fmt.Errorf("fax %s: %w", in.Name, ErrPDFTruncated))
	}
	return nil
}

// patientSeed is what the ids of a document filed to p take from it
// ("" for a document filed to no patient, whose ids stay its digest's).
func patientSeed(p *Patient) string {
	if p == nil {
		return ""
	}
	return "|patient:" + p.System + "|" + p.Value
}

// faxPart is one document of a fax: its masterIdentifier is the OID form
// of a UUID derived from the fax's digest, its official identifier and
// fullUrl the UUID itself.
func faxPart(c *content, kind, h string) part {
	u := newID("doc:" + kind + ":" + h)
	return part{c: c, fullURL: u.URN(),
		master:   fhir.Identifier{Use: "usual", System: rfc3986, Value: u.OID()},
		official: fhir.Identifier{Use: "official", System: rfc3986, Value: u.URN()},
		binID:    newID("binary:" + kind + ":" + h)}
}

// faxDocument describes a fax for the bundle builder: what the fax system
// knows, and the configured receiving organisation as author.
func (c *Converter) faxDocument(fax Fax, pages int) Document {
	cfg := c.cfg
	title := "Fax received " + fax.Received.UTC().Format("2006-01-02 15:04Z")
	if fax.Partial {
		title += " (incomplete)"
	}
	docType, _ := DocType(fax.DocType)
	d := Document{
		Type:            &fhir.CodeableConcept{Coding: []fhir.Coding{docType}},
		Title:           title,
		SubmissionTitle: title,
		Description:     describe(fax, pages),
		Date:            fax.Received,
		Author:          orgRefs(cfg.Author),
		Security:        securityCodings(fax.Security),
		extension:       faxExtension(fax, pages),
	}
	if fax.MRN != "" && cfg.PatientSystem != "" {
		d.Patient = &Patient{System: cfg.PatientSystem, Value: fax.MRN, Name: fax.PatientName, BirthDate: fax.DOB}
	}
	return d
}

// part is one document of a bundle: its bytes and the identifiers of its
// DocumentReference and Binary.
type part struct {
	c        *content
	fullURL  string // the DocumentReference's urn:uuid fullUrl
	master   fhir.Identifier
	official fhir.Identifier
	binID    id
}

// assemble builds the transaction for parts (the main document first) as
// d describes them: the Patient entry when linked by match, the
// SubmissionSet for the MHD profiles, a DocumentReference for each part
// (one with every part as its content under us-core) and the Binaries,
// their data left empty. seed derives the bundle's and the SubmissionSet's
// identifiers; it must be the same whenever the same documents are sent
// again.
func (c *Converter) assemble(d Document, seed string, parts []part, res Result) *plan {
	cfg := c.cfg
	d = d.withDefaults(cfg)
	when := d.Date.UTC().Format(time.RFC3339)
	created := d.Created
	if created == "" {
		created = when
	}
	res.PDFSize = parts[0].c.size
	res.DocumentID = documentUniqueID(parts[0].master)

	profile := cfg.Profile
	if profile == ProfileMHDComprehensive && d.Patient == nil {
		profile = ProfileMHDMinimal // Comprehensive needs a known patient
	}
	if profile == ProfileMHDSimplified && (d.Patient == nil || len(parts) > 1 || d.Superseded) {
		// Simplified Publish makes subject 1..1, content 1..1 and status
		// current: a document without a patient (or a superseded one)
		// goes as an ITI-65 Minimal bundle.
		profile = ProfileMHDMinimal
	}
	mhd := profile != ProfileUSCore
	simplified := profile == ProfileMHDSimplified

	// The document's own labels go on what it is made of (the
	// DocumentReference's meta and the Binary); the Bundle, the
	// securityLabel that names the document and the Patient carry the
	// high-water mark, which leaves out refrain and obligation codes
	// (NORDSCLCD, MASK ...): they would reveal what they protect (DS4P).
	security := d.Security
	hwm := fhir.HighWaterMark(security)
	var subject *fhir.Reference
	var patient *fhir.BundleEntry
	if pt := d.Patient; pt != nil {
		res.PatientKey = fhir.PatientKey(pt.System, pt.Value)
		res.PatientIdentifier = fhir.Identifier{System: pt.System, Value: pt.Value}
		subject = &fhir.Reference{Type: "Patient", Display: pt.Name,
			Identifier: &fhir.Identifier{System: pt.System, Value: pt.Value}}
		switch link := cfg.PatientLink; {
		case simplified:
			// A logical reference: there is no transaction to resolve
			// a conditional one, nor room for a Patient.
		case link == PatientLinkConditional:
			subject.Reference = "Patient?" + fhir.IdentifierQuery(pt.System, pt.Value)
		case link == PatientLinkMatch:
			pid := newID("patient:" + pt.System + "|" + pt.Value)
			subject.Reference = pid.URN()
			patient = &fhir.BundleEntry{FullURL: pid.URN(), Resource: patientResource(*pt, hwm),
				Request: &fhir.BundleRequest{Method: "POST", URL: "Patient", IfNoneExist: fhir.IdentifierQuery(pt.System, pt.Value)}}
		}
	}
	typ := d.Type

	p := &plan{res: res}
	b := fhir.Bundle{
		ResourceType: "Bundle",
		Meta:         &fhir.Meta{Security: hwm},
		Identifier:   &fhir.Identifier{System: rfc3986, Value: newID("bundle:" + seed).URN()},
		Type:         "transaction",
		Timestamp:    when,
	}
	docProfile := usCoreDocRef
	if subject == nil && profile == ProfileUSCore {
		// US Core makes subject 1..1: a document nobody has tied to a
		// patient yet is a valid base DocumentReference but not a US Core
		// one, so it does not claim the profile (an exchange that
		// validates claims would refuse the bundle). MHD Minimal allows
		// no subject.
		docProfile = ""
	}
	switch profile {
	case ProfileMHDMinimal:
		b.Meta.Profile = []string{mhdSD + "IHE.MHD.Minimal.ProvideBundle"}
		docProfile = mhdSD + "IHE.MHD.Minimal.DocumentReference"
	case ProfileMHDComprehensive:
		b.Meta.Profile = []string{mhdSD + "IHE.MHD.Comprehensive.ProvideBundle"}
		docProfile = mhdSD + "IHE.MHD.Comprehensive.DocumentReference"
	case ProfileMHDSimplified:
		docProfile = mhdSD + "IHE.MHD.SimplifiedPublish.DocumentReference"
	}

	if patient != nil {
		b.Entry = append(b.Entry, *patient)
	}
	if mhd && !simplified {
		ss := newID("submissionset:" + seed)
		p.res.SubmissionSetID = ss.OID()
		// The exchange stores the SubmissionSet on its own, without the
		// Bundle's meta: it names the patient and the documents, so it
		// carries their high-water mark as the Bundle does.
		list := &fhir.List{
			ResourceType: "List",
			Meta:         &fhir.Meta{Profile: []string{mhdSD + "IHE.MHD.Minimal.SubmissionSet"}, Security: hwm},
			Extension: []fhir.Extension{{URL: mhdSD + "ihe-sourceId",
				ValueIdentifier: &fhir.Identifier{System: rfc3986, Value: "urn:oid:" + d.SourceID}}},
			Identifier: []fhir.Identifier{
				{Use: "usual", Type: mhdIDType("uniqueId"), System: rfc3986, Value: ss.OID()},
				{Use: "official", Type: mhdIDType("entryUUID"), System: rfc3986, Value: ss.URN()},
			},
			Status:  "current",
			Mode:    "working",
			Title:   d.SubmissionTitle,
			Code:    &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", Code: "submissionset"}}},
			Subject: subject,
			Date:    when,
		}
		if profile == ProfileMHDComprehensive {
			list.Meta.Profile = []string{mhdSD + "IHE.MHD.Comprehensive.SubmissionSet"}
			list.Extension = append(list.Extension, fhir.Extension{URL: mhdSD + "ihe-designationType", ValueCodeableConcept: typ})
		}
		for _, pt := range parts {
			list.Entry = append(list.Entry, fhir.ListEntry{Item: fhir.Reference{Reference: pt.fullURL}})
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: ss.URN(), Resource: list, Request: &fhir.BundleRequest{
			Method: "POST", URL: "List", IfNoneExist: fhir.IdentifierQuery(rfc3986, ss.OID())}})
	}

	mkAttachment := func(pt part) fhir.Attachment {
		return fhir.Attachment{
			ContentType: pt.c.contentType, Language: d.Language, URL: pt.binID.URN(), Size: pt.c.size,
			Hash: pt.c.sha1, Title: d.Title, Creation: created,
		}
	}
	// MHD's DocumentReference takes one category (0..1, Comprehensive
	// 1..1): XDS classCode is single-valued. US Core's clinical-note,
	// which a Document carries beside its own class code for us-core,
	// gives way there to that class code.
	category := d.Category
	if mhd && len(category) > 1 {
		category = category[:1]
		for _, cc := range d.Category {
			if !slices.ContainsFunc(cc.Coding, func(c fhir.Coding) bool { return c.System == usCoreClinicalNote.Coding[0].System }) {
				category = []fhir.CodeableConcept{cc}
				break
			}
		}
	}
	// One securityLabel per label: MHD maps each to one XDS
	// confidentialityCode, and codings of one CodeableConcept would say
	// that R and ETH are the same concept.
	labels := make([]fhir.CodeableConcept, len(hwm))
	for i, c := range hwm {
		labels[i] = fhir.CodeableConcept{Coding: []fhir.Coding{c}}
	}
	var docProfiles []string
	if docProfile != "" {
		docProfiles = []string{docProfile}
	}
	status := "current"
	if d.Superseded {
		status = "superseded"
	}
	mkDoc := func(pt part) *docRef {
		master, official := pt.master, pt.official
		if mhd {
			if master.Type == nil {
				master.Type = mhdIDType("uniqueId")
			}
			if official.Type == nil && official.System == rfc3986 && strings.HasPrefix(official.Value, "urn:uuid:") {
				official.Type = mhdIDType("entryUUID")
			}
		}
		dr := &docRef{DocumentReference: fhir.DocumentReference{
			ResourceType:     "DocumentReference",
			Meta:             &fhir.Meta{Profile: docProfiles, Security: security},
			MasterIdentifier: &master,
			Identifier:       []fhir.Identifier{official},
			Status:           status,
			Type:             typ,
			Category:         category,
			Subject:          subject,
			Date:             when,
			Author:           d.Author,
			Custodian:        d.Custodian,
			Description:      d.Description,
			SecurityLabel:    labels,
			Content:          []fhir.DocumentReferenceContent{{Attachment: mkAttachment(pt), Format: d.Format}},
		}, Extension: d.extension}
		// XDS healthcareFacilityTypeCode and practiceSettingCode, which
		// every profile has room for (MHD Minimal: 0..1, must support);
		// Comprehensive requires them, and the source patient besides.
		// So are serviceStartTime/serviceStopTime and eventCodeList
		// (MHD Minimal: context.period 0..1 must support, context.event
		// 0..*).
		if d.FacilityType != nil || d.PracticeSetting != nil || d.Period != nil || len(d.Event) > 0 || profile == ProfileMHDComprehensive {
			dr.Context = &fhir.DocumentReferenceContext{FacilityType: d.FacilityType, PracticeSetting: d.PracticeSetting,
				Period: d.Period, Event: d.Event}
		}
		if profile == ProfileMHDComprehensive {
			src := d.Patient
			if d.SourcePatient != nil {
				src = d.SourcePatient
			}
			dr.Contained = []any{sourcePatientResource(*src)}
			dr.Context.SourcePatientInfo = &fhir.Reference{Reference: "#src-patient"}
		}
		return dr
	}
	if simplified {
		// ITI-105: the one DocumentReference is the request, its
		// document inline (attachment.data, no url); the exchange
		// assigns the entryUUID (identifier 0..0).
		pt := parts[0]
		dr := mkDoc(pt)
		dr.Identifier = nil
		dr.RelatesTo = d.RelatesTo
		att := &dr.Content[0].Attachment
		att.URL = ""
		p.binaries = append(p.binaries, binaryEntry{c: pt.c, data: &att.Data})
		p.single = dr
		p.res.Create = "DocumentReference"
		p.res.IfNoneExist = fhir.IdentifierQuery(pt.master.System, pt.master.Value)
		p.bundle = b
		return p
	}
	addDoc := func(dr *docRef, pt part) {
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: pt.fullURL, Resource: dr, Request: &fhir.BundleRequest{
			Method: "POST", URL: "DocumentReference", IfNoneExist: fhir.IdentifierQuery(pt.master.System, pt.master.Value)}})
	}
	if mhd {
		// One content per DocumentReference; the PDF says it transforms
		// the original.
		for i, pt := range parts {
			dr := mkDoc(pt)
			if i == 0 && len(parts) > 1 {
				dr.RelatesTo = []fhir.DocumentReferenceRelates{{Code: "transforms", Target: &fhir.Reference{Reference: parts[1].fullURL}}}
			}
			if i == 0 {
				dr.RelatesTo = append(dr.RelatesTo, d.RelatesTo...)
			}
			addDoc(dr, pt)
		}
	} else {
		dr := mkDoc(parts[0])
		dr.RelatesTo = d.RelatesTo
		for _, pt := range parts[1:] {
			dr.Content = append(dr.Content, fhir.DocumentReferenceContent{Attachment: mkAttachment(pt), Format: d.Format})
		}
		addDoc(dr, parts[0])
	}

	for _, pt := range parts {
		bin := &fhir.Binary{ResourceType: "Binary", Meta: &fhir.Meta{Security: security}, ContentType: pt.c.contentType}
		req := &fhir.BundleRequest{Method: "POST", URL: "Binary"}
		if cfg.BinaryMethod == BinaryPut {
			bin.ID = pt.binID.String()
			req = &fhir.BundleRequest{Method: "PUT", URL: "Binary/" + bin.ID}
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: pt.binID.URN(), Resource: bin, Request: req})
		p.binaries = append(p.binaries, binaryEntry{c: pt.c, data: &bin.Data})
	}
	p.bundle = b
	return p
}

// documentUniqueID is the XDS uniqueId a masterIdentifier stands for:
// the value of one under urn:ietf:rfc:3986, and root^extension (ITI TF-3's
// "OID^extension") for one under urn:oid:<root>, whose value alone is
// only the extension: two sources numbering their documents alike under
// their own roots give the same one.
func documentUniqueID(m fhir.Identifier) string {
	switch {
	case m.System == rfc3986 || m.System == "":
		return m.Value
	case strings.HasPrefix(m.System, "urn:oid:"):
		return strings.TrimPrefix(m.System, "urn:oid:") + "^" + m.Value
	}
	return m.System + "|" + m.Value
}

// mhdIDType is the Identifier.type by which MHD 4.2.5 tells a uniqueId
// from an entryUUID (MHD 4.2.2 and 4.2.3 use Identifier.use, which is
// kept beside it).
func mhdIDType(code string) *fhir.CodeableConcept {
	return &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "https://profiles.ihe.net/ITI/MHD/CodeSystem/IHE.MHD.MHDIdentifierType", Code: code}}}
}

func orgRefs(o OrgRef) []fhir.Reference {
	if o.Display == "" && o.Identifier == "" {
		return nil
	}
	r := fhir.Reference{Type: "Organization", Display: o.Display}
	if sys, val, ok := strings.Cut(o.Identifier, "|"); ok {
		r.Identifier = &fhir.Identifier{System: sys, Value: val}
	}
	return []fhir.Reference{r}
}

// concept parses "system|code|display".
func concept(s string) *fhir.CodeableConcept {
	if s == "" {
		return nil
	}
	parts := strings.SplitN(s, "|", 3)
	c := fhir.Coding{Code: parts[0]}
	if len(parts) > 1 {
		c = fhir.Coding{System: parts[0], Code: parts[1]}
	}
	if len(parts) > 2 {
		c.Display = parts[2]
	}
	return &fhir.CodeableConcept{Coding: []fhir.Coding{c}}
}

// sourcePatientResource is the contained Patient the Comprehensive
// profile wants: the patient as the source knew it.
func sourcePatientResource(pt Patient) map[string]any {
	p := map[string]any{
		"resourceType": "Patient",
		"id":           "src-patient",
		"identifier":   []fhir.Identifier{{System: pt.System, Value: pt.Value}},
	}
	if pt.Name != "" {
		p["name"] = []fhir.HumanName{{Text: pt.Name}}
	}
	if d := normDate(pt.BirthDate); d != "" {
		p["birthDate"] = d
	}
	return p
}

// matchPatient is the Patient of PatientLinkMatch for a fax.
func matchPatient(cfg Config, fax Fax, security []fhir.Coding) *fhir.Patient {
	return patientResource(Patient{System: cfg.PatientSystem, Value: fax.MRN, Name: fax.PatientName, BirthDate: fax.DOB}, security)
}

// patientResource is the Patient of PatientLinkMatch: written only when
// the exchange holds no patient with the identifier, so it says no more
// than the document's source does. Gender is "unknown" (neither a fax
// sidecar nor XDS metadata need carry it), which also gives a US Core
// exchange the element it requires; a name written "Family, Given" is
// split as such, any other form is kept as text only. US Core's name
// (1..*, us-core-6: a family or given part, or else the data-absent-reason
// extension) is met the same way: text alone says its parts are
// unsupported, no name at all is a name saying unknown.
func patientResource(pt Patient, security []fhir.Coding) *fhir.Patient {
	p := &fhir.Patient{
		ResourceType: "Patient",
		Meta:         &fhir.Meta{Security: security},
		Identifier:   []fhir.Identifier{{System: pt.System, Value: pt.Value}},
		Gender:       "unknown",
		BirthDate:    normDate(pt.BirthDate),
	}
	hn := fhir.HumanName{Extension: []fhir.Extension{{URL: fhir.DataAbsentReasonURL, ValueCode: "unknown"}}}
	if n := strings.TrimSpace(pt.Name); n != "" {
		hn = fhir.HumanName{Text: n}
		if fam, giv, ok := strings.Cut(n, ","); ok && strings.TrimSpace(fam) != "" && strings.TrimSpace(giv) != "" {
			hn.Family, hn.Given = strings.TrimSpace(fam), strings.Fields(giv)
		} else {
			hn.Extension = []fhir.Extension{{URL: fhir.DataAbsentReasonURL, ValueCode: "unsupported"}}
		}
	}
	p.Name = []fhir.HumanName{hn}
	return p
}

// normDate accepts YYYY-MM-DD or YYYYMMDD and returns YYYY-MM-DD, or "".
func normDate(s string) string {
	for _, layout := range []string{"2006-01-02", "20060102"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02")
		}
	}
	return ""
}

func describe(fax Fax, pages int) string {
	var b strings.Builder
	b.WriteString("Fax received ")
	b.WriteString(fax.Received.UTC().Format("2006-01-02 15:04Z"))
	switch {
	case fax.CallerNumber != "":
		b.WriteString(" from " + fax.CallerNumber)
		if fax.CSID != "" && fax.CSID != fax.CallerNumber {
			b.WriteString(" (CSID " + fax.CSID + ")")
		}
	case fax.CSID != "":
		b.WriteString(" from CSID " + fax.CSID)
	}
	if pages > 0 {
		b.WriteString(", " + strconv.Itoa(pages) + " page")
		if pages > 1 {
			b.WriteString("s")
		}
	}
	if fax.Partial {
		// The receiving clinician reads this: a fax whose call ended
		// early holds only the pages that came.
		b.WriteString(". INCOMPLETE: the fax ended before it was fully received")
		if fax.PartialReason != "" {
			b.WriteString(" (" + fax.PartialReason + ")")
		}
		b.WriteString(";")
		if pages > 0 {
			b.WriteString(" " + strconv.Itoa(pages) + " page")
			if pages > 1 {
				b.WriteString("s")
			}
			b.WriteString(" received,")
		}
		b.WriteString(" pages may be missing")
	}
	return b.String()
}

func faxExtension(fax Fax, pages int) []ext {
	var sub []ext
	add := func(name, v string) {
		if v != "" {
			sub = append(sub, ext{URL: name, ValueString: v})
		}
	}
	if !fax.Received.IsZero() {
		sub = append(sub, ext{URL: "received", ValueDateTime: fax.Received.UTC().Format(time.RFC3339)})
	}
	add("callerNumber", fax.CallerNumber)
	add("callerName", fax.CallerName)
	add("calledNumber", fax.CalledNumber)
	add("csid", fax.CSID)
	add("subAddress", fax.SubAddress)
	add("device", fax.Modem)
	add("commId", fax.CommID)
	if pages > 0 {
		sub = append(sub, ext{URL: "pages", ValueInteger: &pages})
	}
	if fax.Partial {
		partial := true
		sub = append(sub, ext{URL: "partial", ValueBoolean: &partial})
		add("partialReason", fax.PartialReason)
	}
	return []ext{{URL: FaxExtensionURL, Extension: sub}}
}
