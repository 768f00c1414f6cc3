package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/ccdafhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
)

// CCDA converts C-CDA documents (one Unit per document), streaming large
// files from Raw.Open.
type CCDA struct {
	Options ccdafhir.Options
	// MaxEntries caps each transaction (0: the write mode's default; see
	// ccdafhir.Parts).
	MaxEntries int
}

var (
	_ Converter      = CCDA{}
	_ SpillConverter = CCDA{}
)

// Convert decodes the document and returns its bundles, in memory.
func (c CCDA) Convert(ctx context.Context, in adapters.Raw) ([]Unit, error) {
	return c.ConvertSpill(ctx, in, nil)
}

// ConvertSpill decodes the document and writes its bundles: into memory
// up to SpillBytes, beyond that into a file from spill (when spill is not
// nil). A bundle carries the whole document in a Binary, and a
// nonXMLBody's PDF in another, so it is a third larger than the document:
// their data is base64-encoded straight into the bundle's file, never
// into a copy of the bundle in memory.
func (c CCDA) ConvertSpill(_ context.Context, in adapters.Raw, spill func() (BodyWriter, error)) (_ []Unit, err error) {
	opts := c.Options
	// A C-CDA from an XDM package whose METADATA.XML relates it to
	// another document (an RPLC Association) relates to it as if its
	// header said so: the replaced version is superseded.
	rels, err := xdmfhir.RelatedFromMeta(in.Meta)
	if err != nil {
		return nil, queue.Permanent(fmt.Errorf("ccda %s: %w", in.Name, err))
	}
	for _, rel := range rels {
		if typ, root, ext, ok := rel.CDA(); ok {
			opts.Related = append(opts.Related, ccdafhir.RelatedDocument{TypeCode: typ, Root: root, Extension: ext})
		}
	}
	// And labelled as METADATA.XML labels it.
	if opts.Labels, err = xdmfhir.LabelsFromMeta(in.Meta); err != nil {
		return nil, queue.Permanent(fmt.Errorf("ccda %s: %w", in.Name, err))
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = ccdafhir.DefaultMaxBytes
	}
	raw := in.Body
	if raw == nil && in.Open != nil {
		// Read into a buffer of the file's size (one past the limit
		// at most, which ConvertBytes refuses), not one grown by
		// doubling as io.ReadAll's is.
		r, closeFn, err := open(in)
		if err != nil {
			return nil, err
		}
		buf := bytes.NewBuffer(make([]byte, 0, min(max(in.Size, 0), opts.MaxBytes+1)+bytes.MinRead))
		_, err = buf.ReadFrom(io.LimitReader(r, opts.MaxBytes+1))
		closeFn()
		if err != nil {
			return nil, fmt.Errorf("ccda read: %w", err)
		}
		raw = buf.Bytes()
	}
	// Converted where it is: ConvertBytes keeps, not copies, it.
	b, res, err := ccdafhir.ConvertBytes(raw, opts)
	if err != nil {
		return nil, err
	}
	// Exchanges cap the entries of one transaction (Medplum: 50 updates,
	// 8 when the Patient is written conditionally), so a large document
	// goes as several bundles, in order, under the same patient key; each
	// is idempotent on its own.
	parts, err := ccdafhir.Parts(b, c.Options.Mode, c.MaxEntries)
	if err != nil {
		return nil, err
	}
	n := len(parts)
	if sb := ccdafhir.SupersedeBatch(b, res); sb != nil {
		// A replacement (relatedDocument RPLC) marks the version it
		// replaces superseded last, in a batch of its own, so that a
		// replaced version the exchange never received fails that
		// PATCH alone (see SupersedeBatch).
		parts = append(parts, sb)
	}
	units := make([]Unit, 0, len(parts))
	defer func() {
		if err != nil {
			for _, u := range units {
				if u.BodyFile != "" {
					os.Remove(u.BodyFile)
				}
			}
		}
	}()
	for i, part := range parts {
		var u Unit
		if err := writeBundleSpill(&u, spill, part); err != nil {
			return nil, err
		}
		name := "document"
		switch {
		case i >= n:
			name = "supersede replaced document"
		case n > 1:
			name = fmt.Sprintf("document part %d of %d", i+1, n)
		}
		attrs := map[string]string{"format": "ccda", "type": res.DocumentKind, "loinc": res.DocumentType}
		if i >= n {
			// The replaced version may never have reached the
			// exchange: then there is nothing to supersede.
			attrs[queue.AttrMissingOK] = "true"
		} else if res.VersionKey != "" {
			// This version, written current: a retry after its
			// replacement makes it superseded (SupersedeReplaced).
			attrs[AttrDocumentVersion] = res.VersionKey
		}
		u.Name, u.Key, u.Patient, u.Attrs = name, res.PatientKey, res.PatientIdentifier, attrs
		units = append(units, u)
	}
	if len(units) > 0 {
		// The versions this one replaces, for the registry of replaced
		// documents (Pipeline.SetReplaced).
		units[len(units)-1].Replaces = res.Replaces
	}
	if len(res.Skipped) > 0 && len(units) > 0 {
		units[0].Unconverted = res.Skipped
	}
	if len(units) > 0 {
		units[0].Retied = res.Retied
	}
	return units, nil
}

// noteUnconverted counts the entries a stored unit carries only inside its
// attached document and, at DEBUG, names them: family history, goals or
// planned procedures are normal in a C-CDA, so this is no news at INFO,
// but an exchange engineer asking where a section went turns DEBUG on.
// The keys are codes and template ids, never document text.
func (p *Pipeline) noteUnconverted(in adapters.Raw, u *Unit) {
	if len(u.Unconverted) == 0 {
		return
	}
	n := 0
	for _, c := range u.Unconverted {
		n += c
	}
	p.stats.Unconverted.Add(int64(n))
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		p.log.Debug("entries not converted; sent only in the attached document", "source", in.Source, "format", in.Format,
			inputHash(in), "entries", n, "skipped", DescribeUnconverted(u.Unconverted))
	}
}

// DescribeUnconverted renders Unit.Unconverted as one line, keys sorted:
// "10157-6 organizer 2.16.840.1.113883.10.20.22.4.45 x2, 18776-5 planned
// procedure x1".
func DescribeUnconverted(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString(" x")
		b.WriteString(strconv.Itoa(m[k]))
	}
	return b.String()
}

// Fax converts a received fax into an IHE MHD (or US Core) document
// bundle. The bundle carries the fax itself (base64), so it is as large as
// the fax and a third more: with a queue that spills (ConvertSpill) a large
// one goes from the converter's stream straight into a queue body file.
type Fax struct {
	Conv *faxfhir.Converter
}

var (
	_ Converter      = Fax{}
	_ SpillConverter = Fax{}
)

// Convert renders the fax and writes its bundle into memory.
func (f Fax) Convert(ctx context.Context, in adapters.Raw) ([]Unit, error) {
	return f.ConvertSpill(ctx, in, nil)
}

// ConvertSpill renders the fax and writes its bundle: into memory up to
// SpillBytes, beyond that into a file from spill (when spill is not nil).
func (f Fax) ConvertSpill(ctx context.Context, in adapters.Raw, spill func() (BodyWriter, error)) ([]Unit, error) {
	u := Unit{Name: "fax"}
	res, err := writeSpill(&u, spill, func(w io.Writer) (faxfhir.Result, error) { return f.Conv.WriteRaw(ctx, w, in) })
	if err != nil {
		return nil, err
	}
	u.Key, u.Patient, u.Retied = res.PatientKey, res.PatientIdentifier, res.Retied
	// The fax is the same document when its bytes and its patient are:
	// the same image filed for another patient (a corrected sidecar, one
	// form faxed for two) has other ids at the exchange (its DocumentID
	// derives from both) and must not be dropped here as a duplicate. A
	// fax tied to no patient keeps the key of its bytes alone.
	if res.PatientKey != "" {
		u.Dedup = sha256.Sum256([]byte("fax\x00" + res.DocumentID + "\x00" + res.SHA256))
	} else if d, err := hex.DecodeString(res.SHA256); err == nil && len(d) == 32 {
		copy(u.Dedup[:], d)
	}
	u.Attrs = map[string]string{"format": "fax", "pages": fmt.Sprint(res.Pages), "content": res.Format}
	documentAttrs(u.Attrs, res)
	return []Unit{u}, nil
}

// XDMDocument files a document of an XDM package that is not C-CDA, HL7
// v2 or FHIR (a PDF, a TIFF) as a DocumentReference with its Binary, from
// the XDS metadata the EHR drop source put in Raw.Meta: the fax
// converter's bundle, so as large as the document and a third more, and
// spilled like a fax's.
type XDMDocument struct {
	Conv *xdmfhir.Converter
}

var (
	_ Converter      = XDMDocument{}
	_ SpillConverter = XDMDocument{}
)

// Convert writes the document's bundle into memory.
func (x XDMDocument) Convert(ctx context.Context, in adapters.Raw) ([]Unit, error) {
	return x.ConvertSpill(ctx, in, nil)
}

// ConvertSpill writes the document's bundle: into memory up to SpillBytes,
// beyond that into a file from spill (when spill is not nil).
func (x XDMDocument) ConvertSpill(ctx context.Context, in adapters.Raw, spill func() (BodyWriter, error)) ([]Unit, error) {
	u := Unit{Name: "document"}
	res, err := writeSpill(&u, spill, func(w io.Writer) (faxfhir.Result, error) { return x.Conv.WriteRaw(ctx, w, in) })
	if err != nil {
		return nil, err
	}
	u.Key, u.Patient, u.Retied = res.PatientKey, res.PatientIdentifier, res.Retied
	// The document is the same one when its bytes and its unique id are:
	// the same PDF filed under another uniqueId is another document at
	// the exchange, and must not be taken for a duplicate here.
	u.Dedup = sha256.Sum256([]byte(xdmfhir.Format + "\x00" + res.DocumentID + "\x00" + res.SHA256))
	u.Attrs = map[string]string{"format": xdmfhir.Format, "content": res.Format}
	documentAttrs(u.Attrs, res)
	// The document, written current: a retry after its replacement
	// makes it superseded (SupersedeReplaced).
	u.Attrs = setDocumentVersions(u.Attrs, res.Versions...)
	if res.Supersede == nil {
		u.Replaces = res.Replaces
		return []Unit{u}, nil
	}
	// A replacement (an RPLC association in METADATA.XML) marks the
	// version it replaces superseded after it, in a batch of its own,
	// as a C-CDA's does (see CCDA.Convert): a replaced version the
	// exchange never received fails that PATCH alone, which counts as
	// done.
	body, err := json.Marshal(res.Supersede)
	if err != nil {
		if u.BodyFile != "" {
			os.Remove(u.BodyFile)
		}
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	sb := Unit{Name: "supersede replaced document", Bundle: body, Key: u.Key, Patient: u.Patient, Dedup: sha256.Sum256(body),
		Attrs: map[string]string{"format": xdmfhir.Format, queue.AttrMissingOK: "true"}, Replaces: res.Replaces}
	return []Unit{u, sb}, nil
}

// AttrSubmissionSet is the unit (and queue item) attribute holding the
// uniqueId of the MHD SubmissionSet a fax or XDM document bundle carries,
// for the ITI-65 Export audit event.
const AttrSubmissionSet = "submission_set"

// AttrDocument is the unit (and queue item) attribute holding the
// uniqueId (masterIdentifier) of a document published by itself with IHE
// MHD Simplified Publish (ITI-105), for its Export audit event: derived
// from the content or given by the source, never PHI.
const AttrDocument = "document"

// documentAttrs records how a fax or XDM document unit is delivered: the
// SubmissionSet of its ITI-65 bundle, or, for a Simplified Publish, the
// create the sink makes (queue.AttrCreate) and the document it names.
func documentAttrs(attrs map[string]string, res faxfhir.Result) {
	if res.SubmissionSetID != "" {
		attrs[AttrSubmissionSet] = res.SubmissionSetID
	}
	if res.Create != "" {
		attrs[queue.AttrCreate] = res.Create
		attrs[queue.AttrIfNoneExist] = res.IfNoneExist
		attrs[AttrDocument] = res.DocumentID
	}
}

// writeSpill runs write into memory up to SpillBytes, beyond that into a
// file from spill (when spill is not nil), and sets u's Bundle or
// BodyFile to what it wrote.
func writeSpill(u *Unit, spill func() (BodyWriter, error), write func(io.Writer) (faxfhir.Result, error)) (faxfhir.Result, error) {
	w := &spillWriter{create: spill, limit: SpillBytes}
	res, err := write(w)
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		w.abort()
		return faxfhir.Result{}, err
	}
	if w.f != nil {
		u.BodyFile = w.f.Name()
	} else {
		u.Bundle = w.buf.Bytes()
	}
	return res, nil
}

// bigData is the size from which a Binary's data is base64-encoded
// straight into the output by writeBundleSpill.
const bigData = 64 << 10

// writeBundleSpill writes b as JSON, as json.Marshal does, into memory up
// to SpillBytes, beyond that into a file from spill (when spill is not
// nil), and sets u's Bundle or BodyFile, and its Dedup (the SHA-256 of the
// JSON). The data of each large Binary is base64-encoded straight into the
// output: json.Marshal held the whole bundle, in a buffer grown by
// doubling and then in its copy (a 24 MB C-CDA: over 200 MB).
func writeBundleSpill(u *Unit, spill func() (BodyWriter, error), b *fhir.Bundle) error {
	type big struct {
		bin  *fhir.Binary
		data []byte
		mark []byte
	}
	var bigs []big
	defer func() {
		for _, g := range bigs {
			g.bin.Data = g.data
		}
	}()
	for _, e := range b.Entry {
		bin, ok := e.Resource.(*fhir.Binary)
		if !ok || len(bin.Data) < bigData {
			continue
		}
		// A placeholder nobody can know, so no text of the document
		// can be taken for one.
		seed := make([]byte, 30)
		rand.Read(seed)
		bigs = append(bigs, big{bin, bin.Data, []byte(`"` + base64.StdEncoding.EncodeToString(seed) + `"`)})
		bin.Data = seed
	}
	js, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode bundle: %w", err)
	}
	w := &spillWriter{create: spill, limit: SpillBytes}
	h := sha256.New()
	out := io.MultiWriter(h, w)
	write := func() error {
		rest := js
		for _, g := range bigs {
			at := bytes.Index(rest, g.mark)
			if at < 0 {
				return fmt.Errorf("encode bundle: a Binary's placeholder is missing")
			}
			if _, err := out.Write(rest[:at+1]); err != nil {
				return err
			}
			enc := base64.NewEncoder(base64.StdEncoding, out)
			if _, err := enc.Write(g.data); err != nil {
				return err
			}
			if err := enc.Close(); err != nil {
				return err
			}
			rest = rest[at+len(g.mark)-1:]
		}
		if _, err := out.Write(rest); err != nil {
			return err
		}
		return w.finish()
	}
	if err := write(); err != nil {
		w.abort()
		return err
	}
	if w.f != nil {
		u.BodyFile = w.f.Name()
	} else {
		u.Bundle = w.buf.Bytes()
	}
	copy(u.Dedup[:], h.Sum(nil))
	return nil
}

// spillWriter keeps what is written in memory until it passes limit, then
// moves it to a file from create and writes the rest there. With create
// nil it never spills.
type spillWriter struct {
	create func() (BodyWriter, error)
	limit  int
	buf    bytes.Buffer
	f      BodyWriter
	bw     *bufio.Writer
}

func (w *spillWriter) Write(p []byte) (int, error) {
	if w.f == nil {
		if w.create == nil || w.buf.Len()+len(p) <= w.limit {
			return w.buf.Write(p)
		}
		f, err := w.create()
		if err != nil {
			return 0, fmt.Errorf("spill bundle: %w", err)
		}
		w.f, w.bw = f, bufio.NewWriterSize(f, 256<<10)
		if _, err := w.bw.Write(w.buf.Bytes()); err != nil {
			return 0, fmt.Errorf("spill bundle: %w", err)
		}
		w.buf = bytes.Buffer{}
	}
	n, err := w.bw.Write(p)
	if err != nil {
		return n, fmt.Errorf("spill bundle: %w", err)
	}
	return n, nil
}

// finish flushes and closes the spill file, if any; the queue's Put
// fsyncs it.
func (w *spillWriter) finish() error {
	if w.f == nil {
		return nil
	}
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spill bundle: %w", err)
	}
	return nil
}

// abort removes the spill file, if any.
func (w *spillWriter) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.f.Name())
		w.f = nil
	}
}
