// Package v2fhir converts HL7 v2 messages to FHIR R4 transaction Bundles,
// following the HL7 v2-to-FHIR implementation guide's segment and datatype
// maps. Conversion is pure: the same message always gives byte-identical
// output, and every resource gets a deterministic id (a UUIDv5 of its
// business identifier), so re-sending a message changes nothing at the
// receiver (ARCHITECTURE.md invariant 3).
package v2fhir

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/merges"
)

// ErrUnsupported is wrapped by Convert's error when the message type or
// trigger event is not one ferry converts; an MLLP listener answers it with
// AR (ERR-3 200/201), not AE.
var ErrUnsupported = errors.New("unsupported message type")

// ContentError says which segment and field made a supported message
// unconvertible (an MLLP listener answers AE: the sender must fix it).
type ContentError struct {
	Segment string // segment ID, e.g. "PID"
	Pos     int    // 1-based position of the segment in the message (0 when absent)
	Field   string // e.g. "PID-3"
	Reason  string
}

// Code is the error's HL7 table 0357 code, for ERR-3: 100 (segment
// sequence error) when a required segment is missing, 102 (data type
// error) when a field holds a value that does not parse as its type (an
// invalid date, undecodable encapsulated data), 101 (required field
// missing) otherwise.
func (e *ContentError) Code() string {
	switch {
	case !strings.Contains(e.Field, "-"):
		return "100"
	case strings.HasPrefix(e.Reason, "invalid ") || strings.Contains(e.Reason, "does not decode"):
		return "102"
	}
	return "101"
}

// Error reads "v2fhir: PID-3 (segment 3): no identifier".
func (e *ContentError) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("v2fhir: %s (segment %d): %s", e.Field, e.Pos, e.Reason)
	}
	return fmt.Sprintf("v2fhir: %s: %s", e.Field, e.Reason)
}

// Mode chooses how Bundle entries are written so that re-sending is harmless.
type Mode int

const (
	// ModeID writes every entry as PUT Type/<uuidv5> with the id in the
	// resource, and references are literal (Type/<uuidv5>). Bundles split
	// at up to 50 entries (Medplum's limit on updates per transaction).
	// It is the zero value; the gateway's configuration chooses
	// ModePatientConditional unless told otherwise (hl7v2.writes). An
	// exchange that already holds the patient under an id of its own gets
	// a second Patient with the same identifier, and one that refuses
	// client-assigned ids refuses every bundle.
	ModeID Mode = iota
	// ModeConditional writes PUT Type?identifier=system|value (conditional
	// update, as IHE PIXm does for patients); resources carry no id and
	// refer to each other by urn:uuid fullUrl. MessageHeader, Binary and
	// Provenance, which have no business identifier, keep PUT Type/<id>.
	// Such a bundle cannot be cut into parts that each write a share (a
	// urn:uuid resolves only inside one transaction, and Medplum does not
	// resolve conditional references such as "Patient?identifier="), so
	// one over Medplum's 8-entry cap on transactions that create
	// conditionally goes after parts that create what the exchange lacks
	// (fhir.SplitSeeding).
	ModeConditional
	// ModePatientConditional writes each Patient as PUT
	// Patient?identifier=system|value without an id, under the fullUrl
	// urn:uuid:<uuidv5>, and every reference to it is that urn:uuid: the
	// exchange finds its own record of the patient by identifier (or
	// creates one) and rewrites the references to its id. Every other
	// resource is written as in ModeID. An identifier change (A47) does
	// not give the surviving patient the old identifier (use "old") here:
	// a search by the old number would then match it and the replaced
	// record both, and the exchange refuses an ambiguous conditional
	// write. Bundles split at 8 entries (Medplum's cap,
	// fhir.MaxConditionalEntries), each part carrying the Patient entry
	// its resources refer to.
	ModePatientConditional
)

// modeNames are the configuration names of the modes (hl7v2.writes).
var modeNames = [...]string{ModeID: "ids", ModeConditional: "conditional", ModePatientConditional: "patient-conditional"}

// String returns the mode's configuration name.
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode reads a configuration name ("ids", "conditional",
// "patient-conditional").
func ParseMode(s string) (Mode, error) {
	for m, n := range modeNames {
		if s == n {
			return Mode(m), nil
		}
	}
	return ModeID, fmt.Errorf("v2fhir: unknown write mode %q (want ids, conditional or patient-conditional)", s)
}

// Converter turns HL7 v2 messages into FHIR R4 transaction Bundles. The zero
// value works; it is safe for concurrent use once configured.
type Converter struct {
	// Systems maps an assigning authority (CX.4 / HD namespace id, or its
	// universal id) to the FHIR identifier system URI to use for it
	// (config: identifiers.systems). Authorities given as ISO OIDs or UUIDs
	// need no entry.
	Systems map[string]string
	// Base prefixes the identifier systems ferry mints for identifiers that
	// have no known system (default "urn:ferry"). It must be unique to
	// the site: a named assigning authority's system is <Base>:id:<name>
	// whichever facility sends it (so one site's ADT and lab feeds agree),
	// and with a Base shared by two sites their "MRN 123" would be one
	// patient at the exchange. The gateway passes urn:ferry:site:<uuid>
	// (config.IdentifierBase); the fixed default suits offline conversion
	// only.
	Base string
	// Location is the time zone of v2 times that carry no offset
	// (default time.Local).
	Location *time.Location
	// Mode chooses id-based or conditional writes (default ModeID).
	Mode Mode
	// PatientFromADTOnly keeps bundles made from messages other than ADT
	// (results, orders, ...) from replacing the Patient and the Encounter.
	// A PUT replaces the whole resource, so this keeps a lab's sparse PID
	// and PV1 from overwriting the demographics and the visit an ADT feed
	// wrote (an Encounter only when the ADT feed can have written it: one
	// keyed by its visit number or admit time, not by the message); what
	// follows of the Patient holds for that Encounter too (in
	// ModeConditional such an Encounter is a conditional create whatever
	// this says: see encounter). In ModeID the Patient is left out and
	// only referenced as Patient/<id> (the ADT feed must come first); in
	// the conditional modes it is a conditional create (POST Patient,
	// ifNoneExist identifier=...), which writes the patient only when the
	// exchange has none with that identifier and otherwise just resolves
	// the references to it.
	PatientFromADTOnly bool
	// MaxEntries caps the entries of each bundle ConvertParts and Parts
	// return (default DefaultMaxEntries in ModeID, and
	// fhir.MaxConditionalEntries for bundles with a conditional entry in
	// ModePatientConditional; in ModeConditional, the parts before the
	// whole bundle). Convert itself never splits.
	MaxEntries int
	// ZSegmentExtension copies each Z-segment's raw text into an extension
	// (ZSegmentURL, valueString) on the MessageHeader, for receivers that
	// read site-specific data without decoding the Binary. Off by default:
	// the original message, Z-segments included, always travels in the
	// Binary.
	ZSegmentExtension bool
	// Merges, when set, names the patient identifiers earlier merges
	// (ADT^A40, A47) retired (the gateway's data_dir/merges.log). A
	// message whose PID is keyed by one is tied to the record that
	// survived the merge, as if PID-3 named it: its resources refer to
	// the survivor and are scoped and ordered by its key, and the retired
	// Patient is not written (a PUT would make it active again and drop
	// its replaced-by link), nor is the survivor rewritten from this PID
	// (see retie). Conversion stays deterministic given the registry's
	// state. Nil (`ferry convert`): PID-3 is taken as it is.
	Merges MergeLookup
	// Replaced reports whether key, a key an earlier message's
	// Result.Replaces gave, is in the registry of replaced documents
	// (queue/replaced): the gateway passes the durable registry; nil (as
	// in ferry convert) knows nothing. A document it knows as replaced
	// is written superseded, never current, whatever order its original
	// (T02), edit (T08) or status change (T04) and its replacement (T10)
	// arrive in, one it knows as cancelled (T11) entered-in-error, and an
	// edit keeps the relatesTo its document was written with (see
	// document). It must be safe for concurrent use.
	Replaced func(key string) bool
	// Labels are security labels the input's envelope gives each of its
	// messages: the confidentialityCodes of the XDM package an HL7 v2
	// file came in (xdmfhir.MetaLabels). A Direct sender labels the
	// document there, and a v2 message has no field for most of them, so
	// they are taken as message labels, beside MSH-8/26/27 (the higher
	// confidentiality wins): every resource, the Binary and the Bundle's
	// high-water mark carry them, as STANDARDS.md §7 asks (never drop a
	// label). Nil for a message from MLLP or a plain file.
	Labels []fhir.Coding
}

// MergeLookup answers which record a retired patient identifier was
// merged into (merges.Registry).
type MergeLookup interface {
	// Survivor follows the chain of merges from id to the record that
	// survived them all; ok is false when id is not retired.
	Survivor(id merges.ID) (survivor merges.ID, ok bool, err error)
}

// MergedLookup is what a MergeLookup may also answer (merges.Registry
// does): the identifiers merged directly into a record. The record's
// Patient, written whole from a later message's PID, keeps a replaces
// link to each, as its merge wrote it; without it, that link is lost at
// the survivor's next ADT, and with it the way from the survivor to what
// the exchange holds filed to the merged record.
type MergedLookup interface {
	Merged(survivor merges.ID) []merges.ID
}

// ZSegmentURL is the extension carrying one Z-segment's encoded text.
const ZSegmentURL = "https://ferry-health.org/fhir/StructureDefinition/v2-z-segment"

// Result describes a converted message without PHI.
type Result struct {
	// PatientKey orders delivery per patient (queue.Item.Key): fhir.PatientKey
	// of the patient's business identifier, the same key the C-CDA and fax
	// converters give that patient; "" when the message names no patient.
	PatientKey string
	// PatientIdentifier is the identifier PatientKey hashes (its System
	// and Value only): PHI, for the audit trail, which names the patient
	// by it (DICOM PS3.15 A.5). Never log it.
	PatientIdentifier fhir.Identifier
	// MessageType is MSH-9 as "ADT^A01".
	MessageType string
	// ControlID is MSH-10.
	ControlID string
	// Entries is the number of Bundle entries written.
	Entries int
	// Finals are the OBX left out of the bundle because they only move an
	// earlier result to final (OBX-11 "U", no OBX-5; writing them would
	// replace the stored Observation with one without a value), as the
	// request URLs of those Observations at the exchange
	// ("Observation/<id>", or "Observation?identifier=..." where the
	// exchange chooses ids): StatusBatch turns them into the PATCHes that
	// make the stored results final.
	Finals []string
	// Changes are the changes a message makes to resources earlier
	// messages wrote without sending them again: an MDM replacement's
	// parent superseded, a cancelled document entered-in-error, a
	// document status change without content, an order's status changed
	// by an ORC alone (cancel, discontinue, hold, release). ChangeBatch
	// turns them into PATCHes.
	Changes []Change
	// Replaces are the keys the registry of replaced documents
	// (Converter.Replaced) is to hold once this message is stored: the
	// document a replacement (T09/T10) supersedes, the one a cancel (T11)
	// withdraws, and the relation (replaces, appends) a replacement or an
	// addendum (T05/T06) has to its parent, and a document filed current
	// after its cancel for another patient (refiled). Keys are opaque and
	// PHI-free, scoped to the patient (but for the cancel's key for any
	// patient, by which a refiled document is known).
	Replaces []string
	// Versions are the registry keys (Converter.Replaced) of the
	// documents this message writes current: were one replaced after
	// this message was converted (its bundle dead-lettered, retried once
	// the replacement was delivered), the key is what tells. Opaque and
	// PHI-free, as Replaces.
	Versions []string
	// Cancels are the registry keys (Converter.Replaced) that say a
	// document this message writes current or superseded was cancelled
	// (MDM^T11): were one recorded after this message was converted (its
	// bundle dead-lettered, retried once the cancel was delivered), the
	// document is to be written entered-in-error, not current and not
	// superseded, or the retry would file the withdrawn document again.
	// Opaque and PHI-free, as Replaces.
	Cancels []string
	// Labels are every security label the message's bundles carry, on
	// any entry (refrain and obligation codes included, which the
	// Bundle's high-water mark leaves out); nil when it carries none. A
	// disclosure policy decides on them without reading the bundle back.
	Labels []fhir.Coding
	// Merges are the merges this message makes (ADT^A40, A47): each
	// prior record's identifier and the surviving patient's. Unlike the
	// rest of Result they hold identifier values (PHI: never log them).
	// The pipeline records them (merges.Registry) before the message is
	// acknowledged, so that later messages still naming the prior record
	// reach the survivor (Converter.Merges).
	Merges []merges.Merge
	// AfterKeys are the order keys of the records the message's merges
	// retire (fhir.PatientKey of each MRG-1 identifier, the key their own
	// messages were queued under): the message is to be delivered after
	// what is still queued for them (queue.Item.After). Delivered before
	// it, a retired record's backlog would write that record again,
	// active and without its replaced-by link. An A40's later patient
	// groups may merge into other survivors than PatientKey's, which the
	// message writes too: their keys follow, so that their bundles stay
	// in order with it.
	AfterKeys []string
	// Retied counts the patients of the message that Converter.Merges
	// tied to the record their identifier was merged into.
	Retied int
}

// Supported lists the message types Convert handles, as "CODE^TRIGGER",
// sorted.
func Supported() []string {
	out := make([]string, 0, len(handlers))
	for k := range handlers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var handlers = map[string]func(*conv) error{}

// refused names message types ferry recognises but deliberately does not
// convert, with the reason Convert's ErrUnsupported error gives (and so
// the AR's ERR-8 text); Supported does not list them. Convert looks here
// only for a type without a handler.
var refused = map[string]string{}

func init() {
	for _, t := range []string{"A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09", "A10", "A11", "A12", "A13", "A14", "A15", "A16", "A25", "A26", "A27", "A28", "A31", "A38", "A40"} {
		handlers["ADT^"+t] = (*conv).adt
	}
	handlers["ORU^R01"] = (*conv).oru
}

// charsetError turns hl7v2's report of an unreadable character set switch
// into a ContentError (ERR-3 102, "invalid ..."). It is apart from Convert
// because errors.As moves its target to the heap, which every message would
// pay for.
func charsetError(err error) error {
	var pe *hl7v2.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	return &ContentError{Segment: pe.Name, Pos: pe.Segment, Field: pe.Name + "-" + strconv.Itoa(pe.Field), Reason: "invalid " + pe.Reason}
}

// Convert converts a parsed message. raw is the message as received; it is
// kept, base64-encoded, in a Binary that the Provenance names as its source.
func (c *Converter) Convert(msg *hl7v2.Message, raw []byte) (*fhir.Bundle, Result, error) {
	return c.convert(msg, raw, nil)
}

// Lease is the memory of a Bundle that ConvertLeased returned. Release
// hands it to the next leased conversion: the Bundle, the bundles Parts
// and StatusBatch made from it and everything they point to must not be
// used afterwards. The Result's strings and lists are not part of it.
// The zero Lease releases nothing.
type Lease struct {
	mem *slabs
}

// Release ends the lease; it must be called at most once.
func (l Lease) Release() {
	if l.mem == nil {
		return
	}
	l.mem.recycle()
	if l.mem.kept() <= leaseKeptMax {
		leasePool.Put(l.mem)
	}
}

// leaseKeptMax bounds the chunks one pooled lease keeps (a usual message
// uses about twenty): the memory of an unusually large message is left
// to the garbage collector.
const leaseKeptMax = 64

// leasePool holds the memory of released leases. Like any sync.Pool it
// is emptied by the garbage collector, and each entry is bounded
// (leaseKeptMax chunks of at most reuseMax values).
var leasePool = sync.Pool{New: func() any {
	s := new(slabs)
	s.lease()
	return s
}}

// ConvertLeased is Convert for a caller that is done with the Bundle
// before it converts again, such as the ingest pipeline, which only
// encodes it: the Bundle's memory (resources, entries, their datatype
// values, but not its strings) comes from earlier leased conversions
// and goes back for later ones when the caller calls Lease.Release,
// which saves the garbage collector most of what a conversion
// allocates. On error the Lease is zero.
func (c *Converter) ConvertLeased(msg *hl7v2.Message, raw []byte) (*fhir.Bundle, Result, Lease, error) {
	mem := leasePool.Get().(*slabs)
	b, res, err := c.convert(msg, raw, mem)
	if err != nil {
		// Nothing returned points into mem.
		Lease{mem}.Release()
		return nil, res, Lease{}, err
	}
	return b, res, Lease{mem}, nil
}

func (c *Converter) convert(msg *hl7v2.Message, raw []byte, mem *slabs) (*fhir.Bundle, Result, error) {
	typ := msg.Event()
	res := Result{MessageType: typ.Code + "^" + typ.Trigger, ControlID: msg.ControlID()}
	h := handlers[res.MessageType]
	if h == nil && typ.Code == "ORU" && typ.Trigger == "" {
		h = handlers["ORU^R01"]
	}
	if h == nil {
		if typ.Trigger == "" {
			return nil, res, fmt.Errorf("v2fhir: %s without a trigger event (MSH-9.2 and EVN-1 are empty): %w", typ.Code, ErrUnsupported)
		}
		if why := refused[res.MessageType]; why != "" {
			return nil, res, fmt.Errorf("v2fhir: %s: %s: %w", res.MessageType, why, ErrUnsupported)
		}
		return nil, res, fmt.Errorf("v2fhir: %s: %w", res.MessageType, ErrUnsupported)
	}
	x := newConv(c, msg, raw, typ, res.ControlID, mem)
	defer x.release()
	if res.ControlID == "" {
		return nil, res, &ContentError{Segment: "MSH", Pos: 1, Field: "MSH-10", Reason: "message control id is empty"}
	}
	// Text in a character set MSH-18 names but ferry does not know, or
	// after a character set switch that cannot be honoured, would be
	// read in the wrong character set: refuse rather than write a garbled
	// name (AE, ERR-3 102).
	if err := msg.CharsetError(); err != nil {
		return nil, res, charsetError(err)
	}
	x.msgSec = x.messageLabels()
	if err := h(x); err != nil {
		return nil, res, err
	}
	x.orderSec = nil
	if err := x.finish(); err != nil {
		return nil, res, err
	}
	meta := x.applyLabels()
	res.PatientKey = x.orderKey
	res.PatientIdentifier = x.orderID
	res.Entries = len(x.entries)
	res.Finals = x.finals
	res.Changes = x.changes
	res.Replaces = x.replaces
	res.Versions = x.versions
	res.Cancels = x.cancels
	res.Labels = x.allLabels
	res.Merges = x.merges
	res.AfterKeys = x.afterKeys(x.merges)
	res.Retied = x.retied
	// The Bundle and its identifier share one allocation of their own:
	// the conv goes back to convPool, the Bundle to the caller.
	out := x.slabs.bundles.one()
	out.id = fhir.Identifier{System: x.system("message"), Value: res.ControlID}
	b := &out.b
	*b = fhir.Bundle{
		ResourceType: "Bundle",
		Meta:         meta,
		Identifier:   &out.id,
		Type:         "transaction",
		Timestamp:    x.timestamp,
		Entry:        x.entries,
	}
	return b, res, nil
}

// ConvertRaw parses and converts one message given as bytes. The Bundle's
// Binary holds raw itself, so raw must not be modified while the Bundle is
// in use; the message is parsed in place (hl7v2.ParseShared) for the same
// reason.
func (c *Converter) ConvertRaw(raw []byte) (*fhir.Bundle, Result, error) {
	msg, err := hl7v2.ParseShared(raw)
	if err != nil {
		return nil, Result{}, fmt.Errorf("v2fhir: %w", err)
	}
	return c.Convert(msg, raw)
}

// ConvertInput is the adapters-style entry point: every failure is
// permanent (queue.IsPermanent), because retrying cannot change the bytes;
// errors.Is(err, ErrUnsupported) still tells unsupported types apart.
func (c *Converter) ConvertInput(ctx context.Context, in adapters.Raw) (*fhir.Bundle, Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, Result{}, err
	}
	b, res, err := c.ConvertRaw(in.Body)
	if err != nil {
		return nil, res, queue.Permanent(err)
	}
	return b, res, nil
}

// conv holds the state of one conversion.
type conv struct {
	c          *Converter
	m          *hl7v2.Message
	raw        []byte
	loc        *time.Location
	scope      string // sanitised sending facility (or application)
	msgScope   string // sanitised application@facility, scope of MSH-10
	timestamp  string
	entries    []fhir.BundleEntry
	targets    []fhir.Reference
	reqs       []fhir.BundleRequest // backing store for entries' requests
	patientRef *fhir.Reference
	patientKey string          // scopes minted identifiers (patientHash)
	orderKey   string          // Result.PatientKey (fhir.PatientKey)
	orderID    fhir.Identifier // Result.PatientIdentifier, what orderKey hashes
	encRef     *fhir.Reference
	patientRes *fhir.Patient   // the current patient, for NK1/PD1/MRG
	patientID  fhir.Identifier // its business identifier
	encRes     *fhir.Encounter // the current encounter, for DG1
	encKey     fhir.Identifier
	focus      []fhir.Reference
	msgSec     *labels         // MSH-8/26/27, PD1-12, the person's ARV and Converter.Labels
	visitSec   *labels         // the visit's ARV (accessRestrictions)
	orderSec   *labels         // ORC-28 of the current order group
	entrySec   map[int]*labels // entry index → its order group's labels
	byURL      map[string]int  // fullUrl → entry index, from indexFrom entries (find)
	bumps      map[string]int  // with byURL: a key's fullUrl → the last n of key#n put took
	allLabels  []fhir.Coding   // every label in the bundle (Result.Labels)
	finals     []string        // OBX-11 "U" results left out (Result.Finals)
	slabs      *slabs          // the small values of this conversion's resources: own, or a Lease's
	own        slabs
	// MSH fields read once: every resource added consults the type, and
	// keys are minted from the control id.
	typ       hl7v2.MessageType
	controlID string
	app, fac  string    // MSH-3.1, MSH-4.1
	sysKinds  [4]string // recently minted systems (system), by kind
	sysVals   [4]string
	sysNext   int
	times     timeCache // recently rendered date/times

	// changes are the earlier resources this message changes
	// (Result.Changes).
	changes []Change
	// replaces are the registry keys of Result.Replaces.
	replaces []string
	// versions are the registry keys of Result.Versions.
	versions []string
	// cancels are the registry keys of Result.Cancels.
	cancels []string
	// looseStem keys an OBX outside any OBR (OUL's specimen or patient
	// results) that has no OBX-21: the patient and the current specimen's
	// identifier (SPM-2), "" when it has none. The control id would key
	// it anew on every re-send under a new MSH-10.
	looseStem string
	// merges are the merges the message makes (Result.Merges), retied
	// how many of its patients were tied to a survivor (Result.Retied),
	// and curRetied whether the current one was.
	merges    []merges.Merge
	retied    int
	curRetied bool
	// groupMRG is the MRG of the merge group whose PID is being
	// converted (A40, A47), zero otherwise; reversing says that its
	// MRG-1 names the record the PID patient itself was merged into:
	// the merge is turned round (merges.Merge.Reverse), and the PID
	// patient is not tied to that record.
	groupMRG  hl7v2.Segment
	reversing bool
	// retiredKey is the order key of the message's patient's own
	// identifier when a merge retired it (orderKey is then the
	// survivor's): the registry of replaced documents may know a
	// replacement accepted before the merge under it (knownKey).
	retiredKey string
	// merged are mergedKeys, worked out for the patient whose order key
	// is mergedFor (mergedDone once they are).
	merged     []string
	mergedFor  string
	mergedDone bool
}

// convPool recycles the conv structs (about 1.2 KB each, a sixteenth of
// what converting a lab result allocates). Only the struct itself is
// reused: nothing the returned Bundle points to lives inside it (its
// entries, requests and slab chunks are allocations of their own, fresh
// for every conversion), because Convert's callers may keep the Bundle
// as long as they like.
var convPool = sync.Pool{New: func() any { return new(conv) }}

// release zeroes x, so that the pool holds no message or resource alive,
// and returns it to convPool. x must not be used afterwards.
func (x *conv) release() {
	*x = conv{}
	convPool.Put(x)
}

func newConv(c *Converter, m *hl7v2.Message, raw []byte, typ hl7v2.MessageType, controlID string, mem *slabs) *conv {
	x := convPool.Get().(*conv) // zero: release cleared it
	x.slabs = &x.own
	if mem != nil {
		x.slabs = mem
	}
	x.c, x.m, x.raw, x.loc, x.typ, x.controlID = c, m, raw, c.Location, typ, controlID
	if x.loc == nil {
		x.loc = time.Local
	}
	app, fac := m.SendingApp(), m.SendingFacility()
	x.app, x.fac = app, fac
	if hdUniversal(m.MSH().Field(4)) != "" {
		fac = m.MSH().Field(4).Text(2) // the facility's OID or UUID
	}
	if fac == "" {
		fac = app
	}
	x.scope = urns.get(urnScope, func() string { return sanitise(fac) }, fac)
	x.msgScope = urns.get(urnMsgScope, func() string { return sanitise(app) + "." + sanitise(fac) }, app, fac)
	x.makeLists(len(m.Segments()) + 4)
	x.sizeSlabs()
	return x
}

// sizeSlabs starts the slabs every message uses with chunks sized from
// its segments, so that a usual message needs one chunk of each rather
// than two or three doubling ones (sizes from the ADT^A01 and ORU^R01
// that ferry bench mllp sends: about 100 bytes of text per entry, a coded
// element or so per segment, and up to three quantities per OBX: the
// value and the reference range's low and high).
func (x *conv) sizeSlabs() {
	segs := x.m.Segments()
	obx := 0
	for i := range segs {
		if segs[i].Name == "OBX" {
			obx++
		}
	}
	x.slabs.text.start(128 * (len(segs) + 4))
	x.slabs.concepts.reserve(len(segs) + 2)
	x.slabs.quantities.reserve(3 * obx)
}

// listsMax is the most entries makeLists makes room for at once: a
// report of a thousand results.
const listsMax = 1024

// makeLists gives x room for n entries, their references and requests.
// For the usual message (a resource or so per segment, up to 20
// segments) the three lists share one allocation: they live exactly as
// long as the Bundle, which holds the entries and, through them, the
// requests, and whose Provenance targets are the references.
func (x *conv) makeLists(n int) {
	// Room for more is made as entries come: a message of a great many
	// segments that make none (empty NTEs up to max_frame_bytes) would
	// otherwise cost 160 bytes a segment before any was read.
	n = min(n, listsMax)
	switch {
	case x.slabs.entries.reuse:
		// Leased: three kept chunks, which the next conversion reuses.
		x.entries = x.slabs.entries.chunk(n)[:0]
		x.targets = x.slabs.targets.chunk(n)[:0]
		x.reqs = x.slabs.reqs.chunk(n)[:0]
	case n <= 8:
		b := new(struct {
			e [8]fhir.BundleEntry
			t [8]fhir.Reference
			r [8]fhir.BundleRequest
		})
		x.entries, x.targets, x.reqs = b.e[:0], b.t[:0], b.r[:0]
	case n <= 12:
		b := new(struct {
			e [12]fhir.BundleEntry
			t [12]fhir.Reference
			r [12]fhir.BundleRequest
		})
		x.entries, x.targets, x.reqs = b.e[:0], b.t[:0], b.r[:0]
	case n <= 16:
		b := new(struct {
			e [16]fhir.BundleEntry
			t [16]fhir.Reference
			r [16]fhir.BundleRequest
		})
		x.entries, x.targets, x.reqs = b.e[:0], b.t[:0], b.r[:0]
	case n <= 24:
		b := new(struct {
			e [24]fhir.BundleEntry
			t [24]fhir.Reference
			r [24]fhir.BundleRequest
		})
		x.entries, x.targets, x.reqs = b.e[:0], b.t[:0], b.r[:0]
	default:
		x.entries = make([]fhir.BundleEntry, 0, n)
		x.targets = make([]fhir.Reference, 0, n)
		x.reqs = make([]fhir.BundleRequest, 0, n)
	}
}

func (x *conv) base() string {
	if x.c.Base != "" {
		return x.c.Base
	}
	return "urn:ferry"
}

// system mints a sender-scoped identifier system for kind, e.g.
// "urn:ferry:ghh-facility:obx". MSH-10 is unique per sending application,
// so the message system is scoped by application and facility.
func (x *conv) system(kind string) string {
	// A message mints the same few systems over and over (one per
	// Observation): remember the last ones here, which is cheaper than
	// the shared cache's lock and key.
	for i := range x.sysKinds {
		if x.sysKinds[i] == kind && kind != "" {
			return x.sysVals[i]
		}
	}
	base := x.base()
	var s string
	if kind == "message" {
		s = urns.get(urnMessage, func() string { return base + ":" + x.msgScope + ":msh-10" }, base, x.msgScope)
	} else {
		s = urns.get(urnSystem, func() string { return base + ":" + x.scope + ":" + kind }, base, x.scope, kind)
	}
	x.sysKinds[x.sysNext], x.sysVals[x.sysNext] = kind, s
	x.sysNext = (x.sysNext + 1) % len(x.sysKinds)
	return s
}

// add appends a resource as a PUT entry. The id is the UUIDv5 of
// resourceType|system|value, so the same business identifier always lands
// on the same resource; the resource gets that id ("" in conditional mode,
// where the server chooses it). A resource already added (a practitioner
// named twice) is not added again.
func (x *conv) add(resourceType string, key fhir.Identifier, resource any) fhir.Reference {
	readOnly := resourceType == "Patient" && x.c.PatientFromADTOnly && x.typ.Code != "ADT"
	return x.put(resourceType, key, resource, readOnly)
}

// addExisting refers to a resource an earlier message wrote without
// replacing it: where references are literal (ModeID, and everything but
// the Patient in ModePatientConditional) it is left out of the bundle and
// only referenced; where they are urn:uuid fullUrls it is a conditional
// create (POST, ifNoneExist identifier=...), which changes nothing when
// the exchange holds it and makes the references resolve to it.
func (x *conv) addExisting(resourceType string, key fhir.Identifier, resource any) fhir.Reference {
	return x.put(resourceType, key, resource, true)
}

func (x *conv) put(resourceType string, key fhir.Identifier, resource any, readOnly bool) fhir.Reference {
	var urn [urnLen]byte
	uuid5URN(&urn, resourceType, key.System, key.Value)
	bumped := 0
	if i := x.find(urn[:]); i >= 0 {
		if resourceType == "Patient" || resourceType == "Practitioner" || resourceType == "Organization" || resourceType == "PractitionerRole" {
			// The same person, or organisation (the lab every OBX-23
			// of a report names), or role (its director, OBX-25),
			// named twice: point at the entry already written.
			return x.refTo(x.entries[i])
		}
		// Two different resources with one business key (a sender reusing
		// an order number): keep both, deterministically apart, the
		// first free of key#2, key#3 and on. Every one below the last
		// taken was taken before it (entries are only added), so the
		// search starts after it (bumps, kept once there is an index).
		base := ""
		n := 2
		if x.bumps != nil {
			base = string(urn[:])
			if last, ok := x.bumps[base]; ok {
				n = last + 1
			}
		}
		for ; ; n++ {
			uuid5URN(&urn, resourceType, key.System, key.Value+"#"+strconv.Itoa(n))
			if x.find(urn[:]) < 0 {
				break
			}
		}
		bumped = n
		if x.bumps != nil {
			x.bumps[base] = n
		}
	}
	// One string holds both the fullUrl "urn:uuid:<id>" and "Type/<id>",
	// carved from the conversion's text arena.
	t := &x.slabs.text
	start := t.reserve(urnLen + len(resourceType) + 1 + urnLen - len("urn:uuid:"))
	t.b.Write(urn[:])
	t.b.WriteString(resourceType)
	t.b.WriteByte('/')
	t.b.Write(urn[len("urn:uuid:"):])
	both := t.since(start)
	full := both[:urnLen]
	id := full[len("urn:uuid:"):]
	// In ModeID references are literal ("Patient/<id>"): the id is known
	// before the server sees it, so a bundle can be split (Split) and a
	// later part still points at what an earlier part wrote.
	rel := both[urnLen:] // one string for the reference and the request URL
	ref := fhir.Reference{Reference: rel}
	if len(x.reqs) == cap(x.reqs) {
		x.reqs = make([]fhir.BundleRequest, 0, 16)
	}
	x.reqs = append(x.reqs, fhir.BundleRequest{Method: "PUT", URL: rel})
	req := &x.reqs[len(x.reqs)-1]
	if readOnly && !x.byURN(resourceType) {
		x.reqs = x.reqs[:len(x.reqs)-1]
		setID(resource, id)
		return ref // referenced, not written
	}
	if x.byURN(resourceType) {
		ref.Reference = full // the server chooses ids; it rewrites urn:uuid references
		if key.System != "" && resourceType != "Binary" && resourceType != "Provenance" && resourceType != "MessageHeader" {
			if bumped > 0 {
				// Kept apart above, but a conditional update by the shared
				// identifier would write both onto one resource, which the
				// exchange refuses. This one is keyed by the id its place in
				// the message gives it instead, and does not carry the
				// shared identifier, so a search (and the first one's
				// update) by it finds one resource.
				// (Not the urn:uuid fullUrl: the exchange rewrites those,
				// wherever they are, to the id it assigns.)
				// Its value keeps the shared key's system (reportStem): two
				// placers' reused 1001 are two patients' orders.
				minted := fhir.Identifier{System: x.system("duplicate-key"), Value: x.reportStem(key) + "#" + strconv.Itoa(bumped)}
				if rekey(resource, key, minted) {
					key = minted
				}
			}
			// "Type?identifier=<system|value, query-escaped>" in one
			// string: the search is its tail.
			var stack [256]byte
			u := t.bytes(appendIdentifierSearch(stack[:0], resourceType, key))
			if readOnly {
				// Create only when the exchange has no such patient.
				req.Method, req.URL, req.IfNoneExist = "POST", resourceType, u[len(resourceType)+1:]
			} else {
				req.URL = u
			}
			id = ""
		} else if x.c.Mode == ModePatientConditional {
			ref.Reference = rel // no identifier system to search by: keep the id, and splittable references
		}
	}
	setID(resource, id)
	x.noteOrderLabels(resourceType)
	if x.byURL != nil {
		x.byURL[full] = len(x.entries)
	}
	x.entries = append(x.entries, fhir.BundleEntry{FullURL: full, Resource: resource, Request: req})
	x.targets = append(x.targets, ref)
	return ref
}

// rekey replaces the identifier old of resource (a pointer to a FHIR
// resource struct with an Identifier list) by minted; false when the
// resource has no such list. Only the rare resource that shares its key
// with another of the message comes here, so reflection costs nothing
// that matters.
func rekey(resource any, old, minted fhir.Identifier) bool {
	v := reflect.ValueOf(resource)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("Identifier")
	if !f.IsValid() || !f.CanSet() || f.Type() != reflect.TypeOf([]fhir.Identifier(nil)) {
		return false
	}
	ids := f.Interface().([]fhir.Identifier)
	out := make([]fhir.Identifier, 0, len(ids)+1)
	for _, id := range ids {
		if id.System != old.System || id.Value != old.Value {
			out = append(out, id)
		}
	}
	f.Set(reflect.ValueOf(append(out, minted)))
	return true
}

// identifierSearch is resourceType + "?" + fhir.IdentifierQuery(key).
func identifierSearch(resourceType string, key fhir.Identifier) string {
	var stack [256]byte
	return string(appendIdentifierSearch(stack[:0], resourceType, key))
}

// appendIdentifierSearch appends what identifierSearch returns to b, in
// place: every conditional entry needs one.
func appendIdentifierSearch(b []byte, resourceType string, key fhir.Identifier) []byte {
	b = append(b, resourceType...)
	b = append(b, '?')
	return fhir.AppendTokenQuery(b, "identifier", key.System, key.Value)
}

// byURN reports whether resources of this type are written conditionally
// (when they have an identifier system), and so referred to by fullUrl.
func (x *conv) byURN(resourceType string) bool {
	return x.c.Mode == ModeConditional || x.c.Mode == ModePatientConditional && resourceType == "Patient"
}

// refTo is the reference add returned for entry e.
func (x *conv) refTo(e fhir.BundleEntry) fhir.Reference {
	if fhir.Conditional(e) || x.c.Mode == ModeConditional {
		return fhir.Reference{Reference: e.FullURL}
	}
	u := e.Request.URL
	return fhir.Reference{Reference: u}
}

// indexFrom is how many entries a conversion holds before find looks
// them up in an index (byURL) rather than in turn: every resource added
// asks, so a report of thousands of results (a frame of minimal OBX
// segments up to max_frame_bytes) would otherwise cost the square of
// their number, minutes of a processor for one message.
var indexFrom = 32

// find is the index of the entry whose fullUrl is fullURL, -1 when there
// is none.
func (x *conv) find(fullURL []byte) int {
	if x.byURL == nil {
		if len(x.entries) < indexFrom {
			for i := range x.entries {
				if x.entries[i].FullURL == string(fullURL) {
					return i
				}
			}
			return -1
		}
		x.byURL = make(map[string]int, 2*len(x.entries))
		x.bumps = map[string]int{}
		for i := range x.entries {
			x.byURL[x.entries[i].FullURL] = i
		}
	}
	if i, ok := x.byURL[string(fullURL)]; ok {
		return i
	}
	return -1
}

// setID stores id in the resource (a type switch, not a closure, keeps add
// free of allocations).
func setID(resource any, id string) {
	switch r := resource.(type) {
	case *fhir.Patient:
		r.ID = id
	case *fhir.Encounter:
		r.ID = id
	case *fhir.Observation:
		r.ID = id
	case *fhir.DiagnosticReport:
		r.ID = id
	case *fhir.Practitioner:
		r.ID = id
	case *fhir.PractitionerRole:
		r.ID = id
	case *fhir.Organization:
		r.ID = id
	case *fhir.MessageHeader:
		r.ID = id
	case *fhir.Provenance:
		r.ID = id
	case *fhir.Binary:
		r.ID = id
	case *fhir.AllergyIntolerance:
		r.ID = id
	case *fhir.Condition:
		r.ID = id
	case *fhir.Procedure:
		r.ID = id
	case *fhir.Coverage:
		r.ID = id
	case *fhir.Immunization:
		r.ID = id
	case *fhir.ServiceRequest:
		r.ID = id
	case *fhir.Appointment:
		r.ID = id
	case *fhir.DocumentReference:
		r.ID = id
	case *fhir.MedicationRequest:
		r.ID = id
	case *fhir.Specimen:
		r.ID = id
	case *fhir.MedicationDispense:
		r.ID = id
	default:
		panic(fmt.Sprintf("v2fhir: setID: unhandled resource %T", resource))
	}
}

// finish writes the MessageHeader, the original message as a Binary and the
// Provenance that ties them together.
func (x *conv) finish() error {
	msh := x.m.MSH()
	ts, err := x.instant(msh, 7)
	if err != nil {
		return err
	}
	if ts == "" {
		return &ContentError{Segment: "MSH", Pos: 1, Field: "MSH-7", Reason: "message date/time is empty"}
	}
	x.timestamp = ts
	msgKey := fhir.Identifier{System: x.system("message"), Value: x.controlID}
	typ := x.typ

	// The three closing resources and their parts come from one
	// allocation: they live exactly as long as the bundle.
	box := x.slabs.closings.one()
	box.event = fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v2-0003", Code: typ.Trigger}
	mh := &box.mh
	*mh = fhir.MessageHeader{
		ResourceType: "MessageHeader",
		EventCoding:  &box.event,
		Source: fhir.MessageHeaderSource{
			Name:     msh.Field(3).Text(1),
			Endpoint: x.endpoint(msh.Field(3), "app"),
		},
		Focus: x.focus,
	}
	if f := msh.Field(4); !f.Empty() {
		box.sender = fhir.Reference{Display: orStr(f.Text(1), f.Text(2))}
		mh.Sender = &box.sender
	}
	if f := msh.Field(5); !f.Empty() {
		d := fhir.MessageHeaderDestination{Name: f.Text(1), Endpoint: x.endpoint(f, "app")}
		if g := msh.Field(6); !g.Empty() {
			box.receiver = fhir.Reference{Display: orStr(g.Text(1), g.Text(2))}
			d.Receiver = &box.receiver
		}
		box.dest[0] = d
		mh.Destination = box.dest[:]
	}
	if x.c.ZSegmentExtension {
		mh.Extension = x.zSegments()
	}
	x.add("MessageHeader", msgKey, mh)

	bin := &box.bin
	*bin = fhir.Binary{ResourceType: "Binary", ContentType: "x-application/hl7-v2+er7", Data: x.raw}
	binRef := x.add("Binary", msgKey, bin)

	// Every resource so far but the Binary itself. Only the Provenance
	// is added after this, past the end of the slice (its capacity is
	// capped), so x.targets can back it without a copy.
	targets := x.targets[: len(x.targets)-1 : len(x.targets)-1]
	// The transmitter (US Core Provenance, SHOULD) is this gateway, named
	// by its installation's identifier base, which is what the exchange
	// sees in the minted identifier systems too.
	box.gateway = fhir.Identifier{System: "urn:ietf:rfc:3986", Value: x.base()}
	box.agents = [3]fhir.ProvenanceAgent{
		{
			Type: fhir.ProvenanceAssembler,
			Who:  fhir.Reference{Display: "ferry v2-to-FHIR converter"},
		},
		{
			Type: fhir.ProvenanceAuthor,
			Who:  fhir.Reference{Display: orStr(x.fac, x.app, "unknown sender")},
		},
		{
			Type: fhir.ProvenanceTransmitter,
			Who:  fhir.Reference{Identifier: &box.gateway, Display: "ferry gateway"},
		},
	}
	box.entityID = fhir.Identifier{System: msgKey.System, Value: msgKey.Value}
	box.entity[0] = fhir.ProvenanceEntity{Role: "source", What: fhir.Reference{Reference: binRef.Reference, Identifier: &box.entityID}}
	prov := &box.prov
	*prov = fhir.Provenance{
		ResourceType: "Provenance",
		Target:       targets,
		Recorded:     ts,
		Activity:     provenanceActivity,
		Agent:        box.agents[:],
		Entity:       box.entity[:],
	}
	x.add("Provenance", msgKey, prov)
	return nil
}

// closingBox holds the three closing resources and their parts.
type closingBox struct {
	mh       fhir.MessageHeader
	event    fhir.Coding
	sender   fhir.Reference
	receiver fhir.Reference
	dest     [1]fhir.MessageHeaderDestination
	bin      fhir.Binary
	prov     fhir.Provenance
	agents   [3]fhir.ProvenanceAgent
	gateway  fhir.Identifier
	entity   [1]fhir.ProvenanceEntity
	entityID fhir.Identifier
}

// bundleBox is the Bundle and its identifier.
type bundleBox struct {
	b  fhir.Bundle
	id fhir.Identifier
}

// zSegments renders the message's Z-segments as extensions. The text is
// the segment as encoded (v2 escapes intact); control characters, which a
// FHIR string may not hold, become v2 hex escapes (\Xhh\).
func (x *conv) zSegments() []fhir.Extension {
	var out []fhir.Extension
	esc := x.m.Delimiters().Escape
	if esc == 0 {
		esc = '\\'
	}
	for _, seg := range x.m.Segments() {
		if len(seg.Name) != 3 || seg.Name[0] != 'Z' {
			continue
		}
		raw := seg.Raw()
		var b strings.Builder
		b.Grow(len(raw))
		for _, c := range raw {
			if c < 0x20 && c != '\t' || c == 0x7f {
				b.WriteByte(esc)
				b.WriteByte('X')
				b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
				b.WriteByte(esc)
				continue
			}
			b.WriteByte(c)
		}
		if s := strings.TrimSpace(b.String()); s != "" {
			out = append(out, fhir.Extension{URL: ZSegmentURL, ValueString: s})
		}
	}
	return out
}

// Shared, read-only Provenance codes (not allocated per message).
var (
	// The v2-to-FHIR IG's own activity code, then the base value set's
	// (Provenance.activity is bound extensibly to v3-DataOperation).
	provenanceActivity = &fhir.CodeableConcept{
		Coding: []fhir.Coding{
			{System: "http://hl7.org/fhir/uv/v2mappings/CodeSystem/provenance-activity-type-v2-to-fhir", Code: "v2-fhir-transformation", Display: "V2 To FHIR Transformation"},
			{System: "http://terminology.hl7.org/CodeSystem/v3-DataOperation", Code: "CREATE", Display: "create"},
		},
		Text: "v2-FHIR transformation",
	}
)

// endpoint renders an HD as a URI for MessageHeader endpoints.
func (x *conv) endpoint(hd hl7v2.Value, kind string) string {
	if u := hdUniversal(hd); u != "" {
		return u
	}
	base, name := x.base(), orStr(hd.Text(1), "unknown")
	return urns.get(urnEndpoint, func() string { return base + ":" + kind + ":" + sanitise(name) }, base, kind, name)
}

// patientHash is the PHI-free patient scope of the business identifiers
// minted for resources v2 gives no identifier of their own (scopedKey,
// the Encounter of a PV1 without a visit number). Those identifiers are
// stored at the exchange and matched by later conditional updates, so this
// must never change; the queue's ordering key is fhir.PatientKey, which
// the other converters share.
// The hex digits are carved from t.
func patientHash(t *textArena, system, value string) string {
	var stack [256]byte
	name := append(stack[:0], system...)
	name = append(name, '|')
	name = append(name, value...)
	h := sha256.Sum256(name)
	var out [24]byte
	hex.Encode(out[:], h[:12])
	return t.bytes(out[:])
}

func orStr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// sanitise makes s usable inside a URN: lowercase letters, digits, '.', '-'.
func sanitise(s string) string {
	if s == "" {
		return "unknown"
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			if len(b) > 0 && b[len(b)-1] != '-' {
				b = append(b, '-')
			}
		}
	}
	if len(b) == 0 {
		return "unknown"
	}
	return string(b)
}
