package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/config/configtext"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/merges"
)

// HL7 converts HL7 v2 inputs: one message (an MLLP frame) or a batch file
// (FHS/BHS/BTS/FTS or bare concatenated messages), one Unit per message.
type HL7 struct {
	Conv *v2fhir.Converter
	// ProcessingIDs maps a source (adapters.Raw.Source, e.g. "mllp/main")
	// to the processing ids (MSH-11.1, HL7 table 0103) it accepts. A
	// message of such a source with another id is not converted: it is
	// quarantined and answered AR with ERR-3 202, as a message of an
	// unsupported type is (200), so that a test feed pointed at the
	// production gateway reaches neither the exchange nor oblivion, and
	// an operator who finds it was production after all can replay it
	// once the source accepts its id. Inputs of sources not in the map
	// (EHR drop folders, `ferry convert`) are not checked.
	ProcessingIDs map[string]hl7v2.ProcessingIDs
	// MaxBytes bounds a file, which is read whole (0:
	// DefaultMaxWholeFileBytes); a message in memory (MLLP's) is not.
	MaxBytes int64
}

var (
	_ Converter       = HL7{}
	_ StreamConverter = HL7{}
)

// Convert splits, parses and converts every message. A message that fails
// becomes a Unit with Err set (an *hl7v2.AckError the MLLP listener turns
// into AE or AR), so the other messages of a batch still flow.
func (h HL7) Convert(_ context.Context, in adapters.Raw) ([]Unit, error) {
	var units []Unit
	err := h.each(in, func(msg []Unit) error {
		if units == nil {
			units = msg // a lone message: its own slice
		} else {
			units = append(units, msg...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return units, nil
}

// ConvertStream hands the units to emit as the messages are converted,
// in batches of whole messages of about CSVBatchUnits bundles or
// CSVBatchBytes, as CSV and NDJSON files are: an EHR's history export
// converted whole before anything was stored took some 34 times its size
// in memory. A message's parts always go in one batch, since they share
// its dedup key: a commit failing after the first part's was stored
// would make the file, tried again, drop the rest as a resend. A batch is
// handed over as soon as it is full, before the next message is
// converted, so that message sees what storing it recorded (merges,
// replaced documents). A lone message is one batch.
func (h HL7) ConvertStream(_ context.Context, in adapters.Raw, emit func([]Unit) error) error {
	var batch []Unit
	size := 0
	err := h.each(in, func(msg []Unit) error {
		if batch == nil {
			batch = msg
		} else {
			batch = append(batch, msg...)
		}
		for i := range msg {
			size += len(msg[i].Bundle)
		}
		if len(batch) < CSVBatchUnits && size < CSVBatchBytes {
			return nil
		}
		b := batch
		batch, size = nil, 0
		return emit(b)
	})
	if err != nil {
		return err
	}
	if len(batch) > 0 {
		return emit(batch)
	}
	return nil
}

// readsVersions marks HL7 as a StreamConverter whose bundles depend on
// the registry of replaced documents (an MDM T02 after its T10 is written
// superseded): its batches are checked against replacements recorded
// while they were converted (Pipeline.replacedGen).
func (HL7) readsVersions() {}

// each splits, parses and converts every message of the input, handing
// each message's units (its parts, or one unit with Err) to unit in the
// input's order; an error from unit stops it and is returned as it is.
func (h HL7) each(in adapters.Raw, unit func([]Unit) error) error {
	body, err := readAll(in, h.MaxBytes, "one HL7 v2 batch file: export it in several files")
	if err != nil {
		return err
	}
	if bytes.HasPrefix(body, []byte{0xFF, 0xFE}) || bytes.HasPrefix(body, []byte{0xFE, 0xFF}) {
		// A file saved as UTF-16 with its byte-order mark (Notepad's
		// "Unicode", PowerShell 5's > and Out-File), which an EHR drop
		// takes for HL7 v2 by reading it through its mark: HL7 v2 is
		// an 8-bit stream, so it is read as the UTF-8 text it holds.
		if body, err = configtext.UTF8(body); err != nil {
			return fmt.Errorf("hl7v2 batch: %w", err)
		}
	}
	msgs, err := hl7v2.SplitBatch(body)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		// SplitBatch found batch segments and no message: an empty
		// batch, which HL7 has a system send "to meet a requirement
		// for periodic submission of batches when there are no
		// messages to send" (v2.3 §2.23.3). Nothing to convert.
		return nil
	}
	accepted, checkProc := h.ProcessingIDs[in.Source]
	// conv is h.Conv until a message of the input merges patients: the
	// messages after it in a batch file must see that merge, which the
	// pipeline records only when it stores the input.
	conv := h.Conv
	// An HL7 v2 file from an XDM package is labelled as METADATA.XML
	// labels it: every message of it carries those labels too.
	env, err := xdmfhir.LabelsFromMeta(in.Meta)
	if err != nil {
		return queue.Permanent(fmt.Errorf("hl7v2 %s: %w", in.Name, err))
	}
	if len(env) > 0 {
		c := *conv
		c.Labels = append(slices.Clip(c.Labels), env...)
		conv = &c
	}
	var pending *batchMerges
	// converted are the dedup keys of the input's messages converted so
	// far: the same message again in the file (an engine's archive logs
	// a resend) is a resend (Unit.repeat), which the duplicate filter
	// would not know while both are stored in one commit.
	var converted map[[32]byte]bool
	// replaced are the registry keys (Result.Replaces) of the input's
	// messages converted so far, which the messages after them see.
	var replaced map[string]bool
	for i, raw := range msgs {
		u := Unit{Name: "message " + strconv.Itoa(i+1), Raw: raw}
		if len(msgs) == 1 {
			u.Name = "message"
		}
		// raw is the input's own bytes, never modified (the unit and
		// the Bundle's Binary keep them too): parse them in place.
		m, err := hl7v2.ParseShared(raw)
		if err != nil {
			u.Err = err
			if err := unit([]Unit{u}); err != nil {
				return err
			}
			continue
		}
		u.Name += " (MSH-10 " + m.ControlID() + ")"
		if checkProc {
			if id := m.ProcessingID(); !accepted.Accepts(id) {
				u.Err = hl7v2.ProcessingIDError(id, accepted)
				m.Recycle()
				if err := unit([]Unit{u}); err != nil {
					return err
				}
				continue
			}
		}
		u.Dedup = DedupKey(m)
		// Converted all the same (`ferry convert` writes every
		// message's bundles); the pipeline drops its units.
		u.repeat = converted[u.Dedup]
		parts, txs, res, lease, err := convertOne(conv, m, raw)
		if err != nil {
			u.Err = err
			var cp *adapters.ConvertPanic
			if !errors.As(err, &cp) {
				// A converter that panicked may have left anything
				// pointing into m: only a clean failure recycles it.
				m.Recycle()
			}
			if err := unit([]Unit{u}); err != nil {
				return err
			}
			continue
		}
		attrs := map[string]string{"type": res.MessageType, "control_id": res.ControlID, "format": "hl7v2"}
		if n := len(res.Finals); n > 0 {
			// Results that only turned final (OBX-11 U without a value)
			// are PATCHed, not rewritten: say how many, for the audit.
			attrs["obx_status_only"] = strconv.Itoa(n)
		}
		// The documents it writes current, for a retry after their
		// replacement (SupersedeReplaced).
		attrs = setDocumentVersions(attrs, res.Versions...)
		// And the keys of their cancel, for a retry after it.
		attrs = setDocumentKeys(attrs, AttrDocumentCancel, res.Cancels...)
		if z := zSegments(m); z != "" {
			// Reported (names only, no content) so an operator sees which
			// site-specific segments arrive; the whole message, Z-segments
			// included, travels in the Bundle's Binary.
			attrs["z_segments"] = z
		}
		units := make([]Unit, 0, len(parts))
		for j, part := range parts {
			// Every part carries the message's dedup key: a resent
			// message is a duplicate in all its parts. The pipeline
			// stores the parts together and remembers the key only once
			// all of them are stored.
			pu := u
			pu.Attrs = attrs
			switch docs := len(res.Changes) > 0 && j == len(parts)-1; {
			case docs:
				pu.Name = u.Name + " " + changeKind(res.Changes) + " status change"
				if onlySupersedes(res.Changes) {
					// The parent a replacement supersedes may never
					// have reached the exchange (it predates ferry):
					// then there is nothing to do. A withdrawal (T11)
					// or a status change (T03) of a document the
					// exchange does not hold is dead-lettered instead,
					// as an OBX-11 status change is: a misfiled
					// document left visible elsewhere needs a person.
					pu.Attrs = maps.Clone(attrs)
					pu.Attrs[queue.AttrMissingOK] = "true"
				}
			case j == txs:
				pu.Name = u.Name + " status change"
			case txs > 1:
				pu.Name = u.Name + " part " + strconv.Itoa(j+1) + " of " + strconv.Itoa(txs)
			}
			if err := encodeBundle(&pu, part); err != nil {
				pu.Err = fmt.Errorf("encode bundle: %w", err)
				units = append(units, pu)
				continue
			}
			pu.Key, pu.After, pu.Patient = res.PatientKey, res.AfterKeys, res.PatientIdentifier
			if j == 0 {
				// Recorded (and the re-tie logged) once per message.
				pu.Merges, pu.Retied = res.Merges, res.Retied
			}
			// Every part of a message is held with it: the policy sees
			// the labels of the whole message, not of its part alone.
			pu.Labels, pu.LabelsKnown = res.Labels, true
			if j == len(parts)-1 {
				// What the registry of replaced documents is to hold
				// once the message is stored (Pipeline.SetReplaced).
				pu.Replaces = res.Replaces
			}
			units = append(units, pu)
		}
		// Every part is encoded: the bundles' memory goes to the next
		// message's conversion, and the parsed message's to the next
		// parse. Nothing the units keep points into either (Labels and
		// the attributes are the Result's own; strings read from m are
		// in raw or in a buffer of m's own that is not reused).
		lease.Release()
		m.Recycle()
		if len(msgs) > 1 {
			if converted == nil {
				converted = map[[32]byte]bool{}
			}
			converted[u.Dedup] = true
		}
		if len(res.Replaces) > 0 && conv.Replaced != nil {
			// A later message of the input replaced by this one (a T02
			// after its T10 in one batch file) is delivered after this
			// one's supersede PATCH: it must be written superseded, as it
			// would be in a later input, though the pipeline records the
			// replacement only when it stores the batch of messages
			// holding this one.
			if replaced == nil {
				replaced = map[string]bool{}
				base := conv.Replaced
				c := *conv
				c.Replaced = func(key string) bool { return replaced[key] || base(key) }
				conv = &c
			}
			for _, k := range res.Replaces {
				replaced[k] = true
			}
		}
		if len(res.Merges) > 0 && conv.Merges != nil {
			if pending == nil {
				pending = &batchMerges{base: conv.Merges, next: map[merges.ID]merges.ID{}, undone: map[merges.ID]bool{}}
				c := *conv
				c.Merges = pending
				conv = &c
			}
			for _, mg := range res.Merges {
				if mg.Reverse {
					// As the registry records it: the survivor's own
					// merge is taken back first.
					delete(pending.next, mg.Survivor)
					pending.undone[mg.Survivor] = true
				}
				pending.next[mg.Retired] = mg.Survivor
			}
		}
		if err := unit(units); err != nil {
			return err
		}
	}
	return nil
}

// batchMerges is the merge registry as the messages of one input see it:
// the registry's merges and those of the input's earlier messages, which
// the pipeline records only when it stores the batch holding them.
type batchMerges struct {
	base v2fhir.MergeLookup
	next map[merges.ID]merges.ID
	// undone are the identifiers whose merge an earlier message turned
	// round (merges.Merge.Reverse): current again, whatever the
	// registry's chain from them says.
	undone map[merges.ID]bool
}

// Survivor follows the chain of merges through both.
func (b *batchMerges) Survivor(id merges.ID) (merges.ID, bool, error) {
	cur, found := id, false
	// Each round takes a merge of the input's or the registry's whole
	// chain; more rounds than that is a cycle.
	for range 2*len(b.next) + 2 {
		if n, ok := b.next[cur]; ok {
			if n == id {
				break
			}
			cur, found = n, true
			continue
		}
		if b.undone[cur] {
			return cur, found, nil
		}
		s, ok, err := b.base.Survivor(cur)
		if err != nil || !ok {
			return cur, found, err
		}
		cur, found = s, true
		if _, more := b.next[cur]; !more {
			return cur, true, nil
		}
	}
	return merges.ID{}, false, fmt.Errorf("%w: the merges of this input lead back to a retired identifier", merges.ErrCycle)
}

// Merged is the registry's merges into survivor (when it answers them)
// as the input's earlier messages left them, and the input's own.
func (b *batchMerges) Merged(survivor merges.ID) []merges.ID {
	var out []merges.ID
	if ml, ok := b.base.(v2fhir.MergedLookup); ok {
		for _, id := range ml.Merged(survivor) {
			if n, moved := b.next[id]; b.undone[id] || moved && n != survivor {
				continue
			}
			out = append(out, id)
		}
	}
	for id, n := range b.next {
		if n == survivor && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	// Sorted as the registry's are: conversion stays deterministic.
	slices.SortFunc(out, func(a, b merges.ID) int {
		return cmp.Or(cmp.Compare(a.System, b.System), cmp.Compare(a.Value, b.Value))
	})
	return out
}

// v2convert is the HL7 v2 converter's entry point, a variable so a test
// can stand in a converter with a bug. It converts with leased memory
// (see convertOne).
var v2convert = (*v2fhir.Converter).ConvertLeased

// convertOne converts one message of the input into its bundles: the
// message's transaction parts (txs of them), its status-change batch when
// it has one and, last, its document-change batch when it has one. A panic in the converter is that message's
// *adapters.ConvertPanic: the other messages of a batch file are
// converted and queued, and only this one is quarantined.
//
// The bundles' memory is leased (v2fhir.Converter.ConvertLeased): the
// caller releases lease once it has encoded them, and not before.
func convertOne(conv *v2fhir.Converter, m *hl7v2.Message, raw []byte) (parts []*fhir.Bundle, txs int, res v2fhir.Result, lease v2fhir.Lease, err error) {
	defer func() {
		if v := recover(); v != nil {
			// A panic may leave the lease's memory half written: it is
			// not released, and the garbage collector takes it.
			parts, lease, err = nil, v2fhir.Lease{}, &adapters.ConvertPanic{Value: v, Stack: debug.Stack()}
		}
	}()
	b, res, lease, err := v2convert(conv, m, raw)
	if err != nil {
		return nil, 0, res, v2fhir.Lease{}, ackError(err, m)
	}
	if parts, err = conv.Parts(b); err != nil {
		lease.Release()
		return nil, 0, res, v2fhir.Lease{}, err
	}
	txs = len(parts)
	if sb := v2fhir.StatusBatch(b, res); sb != nil {
		// Results that only turned final travel last, as PATCHes in a
		// batch of their own (see StatusBatch).
		parts = append(parts, sb)
	}
	if db := v2fhir.ChangeBatch(b, res); db != nil {
		// A replaced, cancelled or re-statused earlier document is
		// PATCHed last, in a batch of its own (see ChangeBatch).
		parts = append(parts, db)
	}
	return parts, txs, res, lease, nil
}

// DedupKey identifies a message for duplicate detection: sending
// application and facility (MSH-3, MSH-4), control id (MSH-10) and a hash
// of the normalised content, so a re-sent message is recognised while a
// sender that reuses control ids after a restart is not silently dropped.
func DedupKey(m *hl7v2.Message) [32]byte {
	content := sha256.Sum256(m.Bytes())
	// The key hashes app NUL facility NUL control id NUL content hash,
	// gathered in a stack buffer (these are short) and hashed in one call.
	var stack [256]byte
	b := stack[:0]
	for _, s := range [...]string{m.SendingApp(), m.SendingFacility(), m.ControlID()} {
		b = append(b, s...)
		b = append(b, 0)
	}
	b = append(b, content[:]...)
	return sha256.Sum256(b)
}

// ackError maps the converter's errors for m to the HL7 acknowledgement
// they call for.
func ackError(err error, m *hl7v2.Message) error {
	var ce *v2fhir.ContentError
	switch {
	case errors.Is(err, v2fhir.ErrUnsupported):
		// Table 0357: 200 when no message of the type is converted, 201
		// when the type is but not this trigger event.
		code := hl7v2.ErrUnsupportedType
		if convertsType(m.Type().Code) {
			code = hl7v2.ErrUnsupportedEvent
		}
		return &hl7v2.AckError{Code: hl7v2.CodeAR, ErrCode: code, Segment: "MSH", Field: 9, Text: err.Error()}
	case errors.As(err, &ce):
		field := 0
		if i := strings.LastIndexByte(ce.Field, '-'); i >= 0 {
			field, _ = strconv.Atoi(ce.Field[i+1:])
		}
		return &hl7v2.AckError{Code: hl7v2.CodeAE, ErrCode: ce.Code(), Segment: ce.Segment, Sequence: occurrence(m, ce.Segment, ce.Pos), Field: field, Text: ce.Error()}
	}
	return err
}

// occurrence is which of m's segments named name (1-based) the one at
// position pos is, as ERR-2 (ERL.2, segment sequence) counts: the third
// OBX of a result is OBX^3. 0 when pos is not such a segment.
func occurrence(m *hl7v2.Message, name string, pos int) int {
	segs := m.Segments()
	if pos < 1 || pos > len(segs) || segs[pos-1].Name != name {
		return 0
	}
	n := 0
	for _, s := range segs[:pos] {
		if s.Name == name {
			n++
		}
	}
	return n
}

// convertsType reports whether the converter takes some trigger event of
// the message type typ (MSH-9.1).
func convertsType(typ string) bool {
	for _, t := range v2fhir.Supported() {
		if c, _, _ := strings.Cut(t, "^"); c == typ {
			return true
		}
	}
	return false
}

// zSegments lists the distinct Z-segment names of m, comma-separated.
func zSegments(m *hl7v2.Message) string {
	var names []string
	for _, s := range m.Segments() {
		if len(s.Name) == 3 && s.Name[0] == 'Z' && !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	return strings.Join(names, ",")
}

// onlySupersedes reports whether every document change only marks a
// replaced document superseded (MDM T09/T10).
func onlySupersedes(docs []v2fhir.Change) bool {
	for _, d := range docs {
		if d.Status != "superseded" || d.DocStatus != "" {
			return false
		}
	}
	return len(docs) > 0
}

// changeKind names what a message's changes are to, for the unit's name:
// "document" (MDM), "visit" (an ADT cancel whose PV1 names only the
// visit) or "order" (an ORC alone).
func changeKind(changes []v2fhir.Change) string {
	kind := "document"
	for _, c := range changes {
		switch {
		case strings.HasPrefix(c.URL, "Encounter"):
			kind = "visit"
		case !strings.HasPrefix(c.URL, "DocumentReference"):
			return "order"
		}
	}
	return kind
}
