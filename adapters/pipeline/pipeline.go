// Package pipeline is the Consumer every source feeds: it converts a raw
// input to FHIR, drops inputs already seen, quarantines what cannot be
// converted, and puts each resulting Bundle into the durable queue. It
// returns only after all of that is fsynced, so the source may then
// acknowledge (ARCHITECTURE.md invariant 1):
//
//	Raw ──convert──▶ []Unit ──┬─ Err set ──▶ quarantine (fsync) ─▶ Permanent error (AE / failed/)
//	                          ├─ seen    ──▶ skip (already queued once)
//	                          └─ ok      ──▶ queue.Put (fsync) ─▶ dedup.Add ─▶ nil (AA / done/)
//
// Any failure to store (disk full, queue full) is returned as an ordinary,
// retryable error: the source answers AR or leaves the file for the rescan,
// and nothing is lost.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/latency"
	"github.com/ferry-health/ferry/queue/merges"
)

// Unit is one deliverable produced from an input: an HL7 v2 message, a
// C-CDA document, one message of a batch file.
type Unit struct {
	// Name identifies the unit without PHI, e.g. "message 3 (MSH-10 8821)".
	Name string
	// Bundle is the FHIR transaction Bundle as JSON.
	Bundle []byte
	// BodyFile, instead of Bundle, names a spill file holding a bundle too
	// large for memory (a 200 MB fax); a SpillConverter makes it with the
	// queue's CreateBody. The pipeline hands it to Put, which takes it
	// over, or removes it when the unit is not queued.
	BodyFile string
	// Key orders delivery: the patient key, so an A08 never overtakes its A01.
	Key string
	// After are more patient keys the unit is delivered after
	// (queue.Item.After): an HL7 v2 merge's retired records
	// (v2fhir.Result.AfterKeys), whose backlog must reach the exchange
	// before the merge that retires them.
	After []string
	// Patient is the identifier Key was made from (System and Value; the
	// converters' Result.PatientIdentifier), for the audit trail
	// (SetPatientIdentity, WithPatients). It is PHI: never logged, and
	// stored only as SetPatientIdentity's sealer makes it.
	Patient fhir.Identifier
	// Dedup identifies the input unit; a zero value disables deduplication.
	Dedup [32]byte
	// Attrs are PHI-free facts carried with the queue item.
	Attrs map[string]string
	// Raw is the part of the input this unit came from, kept in the
	// quarantine when the unit fails.
	Raw []byte
	// Err, when set, says why the unit could not be converted.
	Err error
	// Labels, when LabelsKnown, are every security label the converter
	// put anywhere in the bundle, so the disclosure policy decides without
	// reading the bundle back: decoding each HL7 v2 bundle to find its
	// labels cost about 100 µs of CPU a message, as much as the rest of
	// ingest. Converters that cannot tell leave LabelsKnown false.
	Labels      []fhir.Coding
	LabelsKnown bool
	// Unconverted counts the parts of the input the bundle carries only
	// inside the document it attaches, not as resources of their own (a
	// C-CDA entry of a template ferry does not map), by a PHI-free key
	// (codes and template ids, e.g. "10157-6 organizer
	// 2.16.840.1.113883.10.20.22.4.45"). Only the first unit of an input
	// carries them. The pipeline counts them (Stats.Unconverted) and logs
	// them at DEBUG once the unit is stored.
	Unconverted map[string]int
	// Merges are the patient merges the unit's message makes (an HL7 v2
	// ADT^A40 or A47; v2fhir.Result.Merges), on its first part only: the
	// pipeline records them (SetMerges) before the unit is stored, so
	// before the source is acknowledged. They hold identifier values:
	// never log them.
	Merges []merges.Merge
	// Retied counts the patients of the unit's input that were tied to
	// the record an earlier merge kept (v2fhir.Result.Retied, and the
	// same of a C-CDA, fax, XDM document or CSV patient), on its first
	// part only: logged and counted once the unit is stored.
	Retied int
	// Replaces are keys for the registry of replaced documents
	// (ccdafhir and v2fhir Result.Replaces): the documents and relations
	// this unit's input replaces. The pipeline records them (SetReplaced)
	// before it stores the unit, so that a replaced version arriving
	// after its replacement is converted superseded; the keys of a unit
	// the policy holds wait in its held entry for its release
	// (HeldEntry.Replaces).
	Replaces []string

	// buf, when set, is the pooled buffer Bundle lives in (bundleBufs).
	buf *[]byte
	// repeat marks a unit that repeats one of the same input before it
	// (an HL7 v2 batch file holding a message twice): with a duplicate
	// filter it is dropped as a resend is, though the filter has not
	// remembered the first yet (they may be stored in one commit).
	repeat bool
	// sharesKey marks a held unit whose Dedup a unit of its input that
	// goes to the queue shares (store): its held entry does not keep the
	// key (HeldEntry.Dedup), which stays forgotten until that unit is
	// queued too.
	sharesKey bool
}

// bundleBufs recycles the buffers HL7 v2 bundles are encoded into. A
// queue that copies a body into its own storage (BodyCopier) is done with
// it when Put returns, so under load the encoder reuses a handful of
// buffers instead of allocating ~10 KB per message for the collector.
var bundleBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledBundle keeps one huge bundle from pinning its buffer.
const maxPooledBundle = 1 << 20

// BodyCopier is implemented by queues whose Put keeps nothing of
// Item.Body once it has returned nil (diskq writes it into its log), so
// the caller may reuse the buffer.
type BodyCopier interface {
	CopiesBody() bool
}

// encodeBundle encodes part into a pooled buffer and sets u.Bundle.
func encodeBundle(u *Unit, part any) error {
	bp := bundleBufs.Get().(*[]byte)
	b, err := fhir.AppendJSON((*bp)[:0], part)
	if err != nil {
		bundleBufs.Put(bp)
		return err
	}
	*bp = b
	u.Bundle, u.buf = b, bp
	return nil
}

// recycle returns u's pooled buffer, when it has one; u.Bundle must not be
// used afterwards.
func (u *Unit) recycle() {
	if u.buf == nil {
		return
	}
	if cap(*u.buf) <= maxPooledBundle {
		*u.buf = (*u.buf)[:0]
		bundleBufs.Put(u.buf)
	}
	u.buf, u.Bundle = nil, nil
}

// Converter turns one raw input into units. An error means the input as a
// whole could not be read (it is quarantined); per-unit failures go in
// Unit.Err so the rest of a batch still flows.
type Converter interface {
	Convert(ctx context.Context, in adapters.Raw) ([]Unit, error)
}

// ConverterFunc adapts a function to Converter.
type ConverterFunc func(ctx context.Context, in adapters.Raw) ([]Unit, error)

// Convert calls f.
func (f ConverterFunc) Convert(ctx context.Context, in adapters.Raw) ([]Unit, error) {
	return f(ctx, in)
}

// Putter is the part of queue.Queue the pipeline needs.
type Putter interface {
	Put(ctx context.Context, it *queue.Item) error
}

// BodyWriter is a body file being written (queue.BodyWriter): a queue
// that encrypts at rest seals what is written, so a spilled bundle reaches
// the disk only through it. Close it before passing Name to Put.
type BodyWriter = queue.BodyWriter

// Spiller is implemented by queues that take large bodies as files
// (diskq.Queue): CreateBody returns a new file in the queue's own storage,
// to be written, closed and passed to Put as Item.BodyFile (its Name).
type Spiller interface {
	CreateBody() (BodyWriter, error)
}

// SpillConverter is a Converter whose bundles can be large. When the queue
// is a Spiller, the pipeline calls ConvertSpill instead of Convert, and a
// bundle above SpillBytes is written straight into a file from spill
// (returned as Unit.BodyFile) so that it is never held in memory.
type SpillConverter interface {
	Converter
	ConvertSpill(ctx context.Context, in adapters.Raw, spill func() (BodyWriter, error)) ([]Unit, error)
}

// SpillBytes is the bundle size above which a SpillConverter writes to a
// spill file instead of memory.
const SpillBytes = 1 << 20

// Deduper remembers input units already queued. Remember need not wait
// for its own fsync: the unit is already durable in the queue, and a key
// lost in a crash costs only a second, harmless delivery (bundles are
// idempotent), so the ACK path pays one fsync, the queue's.
type Deduper interface {
	Seen(key [32]byte) bool
	Remember(key [32]byte) error
}

// Replacements records the keys of replaced documents (Unit.Replaces):
// queue/replaced.Registry. Add returns once they are on disk.
type Replacements interface {
	Add(keys ...string) error
}

// Pipeline implements adapters.Consumer.
type Pipeline struct {
	queue      Putter
	dedup      Deduper
	quarantine *Quarantine
	converters map[string]Converter
	log        *slog.Logger
	stats      *Stats
	pseudonym  func(string) string // applied to every unit's Key (SetPseudonym); nil: keys as converted
	policy     Policy
	held       *Held
	onHeld     func(in adapters.Raw, u *Unit, label string)
	merges     MergeRecorder
	replaced   Replacements

	// prevPseudonyms gives what is recorded with Replaces beside the
	// pseudonym (SetPreviousPseudonyms); nil: nothing.
	prevPseudonyms func(string) []string
	// versions and replacedGen keep an input converted before a
	// replacement was recorded from being queued after it as converted:
	// it may write current the version that replacement supersedes (an
	// MDM T02 and its T10 on two connections at once), and the T10's
	// supersede PATCH, delivered first, would find nothing to supersede.
	// Recording takes versions exclusively and moves replacedGen on;
	// storing an input checks the generation it was converted at and
	// keeps versions shared until its units are committed, so it is
	// either committed before the replacement is recorded (and delivered
	// before its PATCH) or converted again, seeing it. A patient merge
	// is recorded the same way (recordMerges), and moves mergedGen on
	// too, which the converters that read only the merges (CSV) check.
	versions    sync.RWMutex
	replacedGen atomic.Uint64
	mergedGen   atomic.Uint64
	// patientAttr makes AttrPatient (SetPatientIdentity); nil: none.
	patientAttr func(key string, id fhir.Identifier) string
	// check, when set (SetStoreCheck), may refuse the units of an input
	// before anything of them is stored.
	check func(in adapters.Raw, keys []string) error
}

// SetStoreCheck makes the pipeline call f with the patient keys of each
// input's units (each batch of a streamed one) that would be queued or
// held, before it records, holds or queues anything of them: every key
// (Key, and the After keys it does not only wait behind) as the queue
// stores it, and its pseudonyms under the previous keys of a key rotation
// (SetPreviousPseudonyms) too. An error f returns is the input's, which is
// tried again (not quarantined). `ferry quarantine replay` refuses so an
// input whose patient had newer data delivered since it was quarantined.
// Call it before the first Consume.
func (p *Pipeline) SetStoreCheck(f func(in adapters.Raw, keys []string) error) { p.check = f }

// checkKeys is SetStoreCheck's keys of units.
func (p *Pipeline) checkKeys(units []Unit) []string {
	var keys []string
	add := func(k string) {
		if _, behind := queue.BehindKey(k); k == "" || behind {
			return
		}
		if p.pseudonym == nil {
			keys = append(keys, k)
			return
		}
		keys = append(keys, p.pseudonym(k))
		if p.prevPseudonyms != nil {
			keys = append(keys, p.prevPseudonyms(k)...)
		}
	}
	for i := range units {
		u := &units[i]
		if u.Err != nil || p.seen(u) {
			continue
		}
		add(u.Key)
		for _, k := range u.After {
			add(k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// MergeRecorder keeps the patient merges of the inputs stored
// (merges.Registry): Record returns once the merge is on disk.
type MergeRecorder interface {
	Record(m merges.Merge) error
}

// SetMerges makes the pipeline record every unit's merges (Unit.Merges)
// in r before it holds, queues or skips the unit as a duplicate, so a
// merge is durable before its message is acknowledged, and never lost to
// a crash between the queue's commit and the ACK: a resend then found
// a duplicate would not be recorded again. A merge recorded whose
// message a crash kept from the queue is recorded again, harmlessly,
// when the sender resends it. Call before the first Consume.
func (p *Pipeline) SetMerges(r MergeRecorder) { p.merges = r }

// SetPolicy makes the pipeline hold, in held, the units whose bundles carry
// a label the policy lists, instead of queueing them (STANDARDS.md §7). A
// held unit counts as accepted: it is stored durably, so the source is
// acknowledged. onHeld, if not nil, is told of each decision (the audit
// trail); it must not block. Call before the first Consume.
func (p *Pipeline) SetPolicy(pol Policy, held *Held, onHeld func(in adapters.Raw, u *Unit, label string)) {
	p.policy, p.held, p.onHeld = pol, held, onHeld
}

// SetPseudonym makes every unit's ordering key f(key) before anything
// stores, logs or audits it: with data at rest sealed, the gateway passes
// seal.Key.Pseudonym, so that the key left in clear in queue headers, dead
// letters and audit events cannot be traced back to a chart number by
// hashing candidates. Equal keys stay equal, so per-patient order holds.
// Call it before the first Consume.
func (p *Pipeline) SetPseudonym(f func(string) string) { p.pseudonym = f }

// SetPreviousPseudonyms makes the pipeline record in the registry of
// replaced documents, beside each replaced version's key and its
// pseudonym, its pseudonyms f gives: those of the previous keys of a key
// rotation (seal.Key.PreviousPseudonyms). A dead letter queued before the
// rotation names the versions it writes current by those
// (AttrDocumentVersion), and retried after a replacement recorded since,
// must still be found replaced. Every unit also waits behind its keys'
// pseudonyms under those keys (previousBehind), so that it does not
// overtake its patient's items queued before the rotation. Call it before
// the first Consume.
func (p *Pipeline) SetPreviousPseudonyms(f func(string) []string) { p.prevPseudonyms = f }

// previousBehind returns, for a unit not yet pseudonymized, the keys it
// waits behind as well after a key rotation (SetPreviousPseudonyms): the
// pseudonyms under the previous keys of its Key and its After keys, each
// as a queue.Behind key. An item queued before the rotation carries its
// patient's pseudonym under the key of its day, so without them a
// patient's A08 queued since would be handed out beside its A01 still
// waiting (ARCHITECTURE invariant 4); behind them it waits until every
// item queued under them before it is settled, and the items after it
// wait for it under its own key, as ever.
func (p *Pipeline) previousBehind(u *Unit) []string {
	if p.prevPseudonyms == nil {
		return nil
	}
	var out []string
	for _, k := range append([]string{u.Key}, u.After...) {
		if bk, behind := queue.BehindKey(k); behind {
			k = bk
		}
		if k == "" {
			continue
		}
		for _, pk := range p.prevPseudonyms(k) {
			if b := queue.Behind(pk); !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// SetReplaced makes the pipeline record every stored unit's Replaces in
// r, the registry of replaced documents the converters read (the
// gateway gives both the same queue/replaced.Registry). Call it before
// the first Consume.
func (p *Pipeline) SetReplaced(r Replacements) { p.replaced = r }

// Held returns the store of units held by policy (nil without a policy).
func (p *Pipeline) Held() *Held { return p.held }

// ErrUnknownFormat is returned for a Raw.Format no converter handles.
var ErrUnknownFormat = errors.New("no converter for this input format")

// New returns a pipeline. converters maps Raw.Format to its converter.
// dedup may be nil.
func New(q Putter, d Deduper, quarantine *Quarantine, converters map[string]Converter, log *slog.Logger) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := &Stats{convert: make(map[string]*latency.Histogram, len(converters))}
	for f := range converters {
		st.convert[f] = &latency.Histogram{}
	}
	return &Pipeline{queue: q, dedup: d, quarantine: quarantine, converters: converters, log: log, stats: st}
}

var _ adapters.Consumer = (*Pipeline)(nil)

// Quarantine returns the store of inputs that could not be converted.
func (p *Pipeline) Quarantine() *Quarantine { return p.quarantine }

// Stats returns the pipeline's counters.
func (p *Pipeline) Stats() *Stats { return p.stats }

// Consume converts, deduplicates, quarantines and queues one input.
func (p *Pipeline) Consume(ctx context.Context, in adapters.Raw) error {
	conv, ok := p.converters[in.Format]
	if !ok {
		err := fmt.Errorf("%s: format %q: %w", in.Name, in.Format, ErrUnknownFormat)
		return p.reject(in, in.Body, err)
	}
	sc, streams := conv.(StreamConverter)
	counter := &p.replacedGen
	if _, versioned := conv.(versionReader); streams && !versioned {
		if _, merged := conv.(mergeReader); !merged {
			return p.consumeStream(ctx, sc, in, nil)
		}
		counter = &p.mergedGen
	}
	for attempt := 0; ; attempt++ {
		gen := &generation{at: counter.Load(), of: counter}
		var err error
		if streams {
			err = p.consumeStream(ctx, sc, in, gen)
		} else {
			err = p.consumeOnce(ctx, conv, in, gen)
		}
		if !errors.Is(err, errStaleVersions) {
			return err
		}
		if attempt == maxReconvert {
			return fmt.Errorf("%s: %w, %d times; try again", in.Name, err, attempt+1)
		}
	}
}

// consumeOnce converts the input and stores its units; gen is the
// registry generation read before converting (see store).
func (p *Pipeline) consumeOnce(ctx context.Context, conv Converter, in adapters.Raw, gen *generation) error {
	start := time.Now()
	units, err := p.convert(ctx, conv, in)
	if h := p.stats.convert[in.Format]; h != nil {
		h.Observe(time.Since(start))
	}
	if errors.Is(err, queue.ErrFull) {
		// The converter could not write its bundle to the queue's
		// spill file for lack of room: nothing is wrong with the
		// input, which is tried again later (AR, the file left).
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// Cut short by the source (the gateway stopping while a large
		// fax renders): nothing is wrong with the input, which the
		// source keeps and offers again, as consumeStream does.
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	if adapters.IsReadError(err) {
		// Reading the file failed (a share that dropped for a moment),
		// not its content: the source reads it again later.
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	if err != nil {
		return p.reject(in, in.Body, fmt.Errorf("%s: %w", in.Name, err))
	}
	failed, err := p.store(ctx, in, units, gen)
	if errors.Is(err, errStaleVersions) {
		for i := range units {
			units[i].recycle()
		}
		return err
	}
	if queue.IsPermanent(err) {
		// The queue can never take it (larger than queue.max_bytes):
		// kept with the reason, for a replay once the setting is raised.
		return p.reject(in, in.Body, err)
	}
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return queue.Permanent(joinUnitErrors(in.Name, failed))
	}
	return nil
}

// StreamConverter is a Converter whose input can make more bundles than
// should be held in memory at once (a CSV export of a whole practice).
// The pipeline calls ConvertStream, which hands over the units in batches
// as they are built; each batch is stored (deduplicated, held or queued,
// in one commit) before the converter goes on, and an error storing it
// stops the conversion. A converter must check the whole input before its
// first batch when the input is to go all or nothing.
//
// A batch stored is durable, so an input whose later batch cannot be
// stored (the queue full) is left to be tried again whole, as an HL7
// batch file is: the duplicate filter drops what the earlier attempt
// queued.
type StreamConverter interface {
	Converter
	ConvertStream(ctx context.Context, in adapters.Raw, emit func([]Unit) error) error
}

// versionReader marks a StreamConverter whose bundles depend on the
// registry of replaced documents (HL7: an MDM T02 arriving after its T10
// is written superseded). Each of its batches is stored only if no
// replacement was recorded since it was converted, else the input is
// converted again (Consume), the batches stored before dropped then as
// duplicates; the others' batches are not checked against replacements,
// so a CSV export is not converted again for an MDM message recorded
// meanwhile (though it is for a merge: mergeReader).
type versionReader interface {
	StreamConverter
	readsVersions()
}

// mergeReader marks a StreamConverter whose bundles depend on the patient
// merges recorded (CSV: a row under an identifier a merge retired is the
// survivor's). Its batches are checked against the merges recorded while
// they were converted (mergedGen), not against replacements: a batch
// converted before a merge was recorded took the retired patient for
// current, and stored after it would reach the exchange after the merge
// and file its rows to the retired record. The input is converted again
// then, as a versionReader's is.
type mergeReader interface {
	StreamConverter
	readsMerges()
}

// generation is the registry generation an input was converted at: the
// value of of (replacedGen, which replacements and merges move on, or
// mergedGen, which merges alone do) when it was read.
type generation struct {
	at uint64
	of *atomic.Uint64
}

// follow moves g on to now, the value counter was just moved to by a
// recording of the input's own, when nobody else recorded since g was
// read: the input's own recordings do not make its conversion stale.
func (g *generation) follow(counter *atomic.Uint64, now uint64) {
	if g != nil && g.of == counter && g.at == now-1 {
		g.at = now
	}
}

// storeError marks an error of storing a batch (not of converting), which
// a StreamConverter returns as it is.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// consumeStream is Consume for a StreamConverter. gen, when not nil, is
// the registry generation read before converting (see store): it follows
// each batch stored, as the converter goes on only after the batch is
// stored, and a batch converted before a replacement was recorded stops
// the input with errStaleVersions.
func (p *Pipeline) consumeStream(ctx context.Context, sc StreamConverter, in adapters.Raw, gen *generation) error {
	start := time.Now()
	var (
		failed     []error
		stored     int           // units of the batches stored
		storing    time.Duration // time spent storing, not converting
		storePanic any
		storeStack []byte
		errStopped = errors.New("storing panicked")
	)
	err := func() (err error) {
		// A panic in the converter is the input's doing, as in convert.
		defer func() {
			if v := recover(); v != nil {
				err = &adapters.ConvertPanic{Value: v, Stack: debug.Stack()}
			}
		}()
		return sc.ConvertStream(ctx, in, func(units []Unit) (err error) {
			// A panic while storing is no fault of the input: it goes on
			// to the source as before, past the converter's recover.
			defer func() {
				if v := recover(); v != nil {
					storePanic, storeStack, err = v, debug.Stack(), errStopped
				}
			}()
			began := time.Now()
			f, err := p.store(ctx, in, units, gen)
			storing += time.Since(began)
			if errors.Is(err, errStaleVersions) {
				for i := range units {
					units[i].recycle()
				}
			}
			failed = append(failed, f...)
			if err != nil {
				return &storeError{err}
			}
			if gen != nil {
				// What the converter converts from now on sees every
				// replacement recorded so far.
				gen.at = gen.of.Load()
			}
			stored += len(units)
			return nil
		})
	}()
	// The conversion's own time, as for the other converters: the
	// batches' commits are the disk's (ferry_queue_flush_seconds).
	if h := p.stats.convert[in.Format]; h != nil {
		h.Observe(time.Since(start) - storing)
	}
	if storePanic != nil {
		panic(fmt.Sprintf("%v\n\n%s", storePanic, storeStack))
	}
	var se *storeError
	switch {
	case errors.As(err, &se) && queue.IsPermanent(se.err) && stored > 0:
		// The queue can never take this batch (larger than
		// queue.max_bytes): the input is kept with the reason, as for
		// a converter error.
		return p.reject(in, in.Body, fmt.Errorf("%w (%d bundles of it were queued before the error and stay queued)", se.err, stored))
	case errors.As(err, &se) && queue.IsPermanent(se.err):
		return p.reject(in, in.Body, se.err)
	case errors.As(err, &se):
		return se.err
	case err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return fmt.Errorf("%s: %w", in.Name, err)
	case adapters.IsReadError(err) && stored > 0:
		// Reading the file failed partway, not its content: the source
		// reads it again whole, and the duplicate filter drops what this
		// attempt stored, as after a later batch found the queue full.
		return fmt.Errorf("%s: %w (%d bundles of it were queued before the error; read again, they are not queued twice)", in.Name, err, stored)
	case adapters.IsReadError(err):
		return fmt.Errorf("%s: %w", in.Name, err)
	case err != nil && stored > 0:
		// What was stored before a converter error (none, for a
		// converter that checks its whole input first: a panic, say)
		// stays queued; the operator replaying the quarantined input is
		// told, and the duplicate filter drops those bundles then.
		return p.reject(in, in.Body, fmt.Errorf("%s: %w (%d bundles of it were queued before the error and stay queued)", in.Name, err, stored))
	case err != nil:
		return p.reject(in, in.Body, fmt.Errorf("%s: %w", in.Name, err))
	case len(failed) > 0:
		return queue.Permanent(joinUnitErrors(in.Name, failed))
	}
	return nil
}

// store deduplicates, holds, quarantines or queues the units of one input
// (or one batch of them). It returns the errors of the units quarantined,
// and an error when a unit could not be stored at all (the input is then
// to be tried again). Spill files of units that do not reach Put are
// removed.
//
// gen is the generation of the registry of replaced documents the units
// were converted at (replacedGen; for a mergeReader, mergedGen), or nil
// for a converter that reads no registry (a stream). When a replacement
// or a merge (for a mergeReader, a merge) was recorded since, store
// stores nothing and returns errStaleVersions.
func (p *Pipeline) store(ctx context.Context, in adapters.Raw, units []Unit, gen *generation) (failed []error, err error) {
	handed := 0
	defer func() {
		for i := handed; i < len(units); i++ {
			if f := units[i].BodyFile; f != "" {
				os.Remove(f)
			}
		}
	}()
	if p.check != nil {
		if err := p.check(in, p.checkKeys(units)); err != nil {
			return nil, err
		}
	}
	if p.pseudonym != nil {
		for i := range units {
			behindPrev := p.previousBehind(&units[i])
			if units[i].Key != "" {
				units[i].Key = p.pseudonym(units[i].Key)
			}
			pseudonymVersions(&units[i], p.pseudonym)
			if r := units[i].Replaces; len(r) > 0 {
				// The retry edit reads versions by their pseudonyms
				// (AttrDocumentVersion): the registry holds both.
				units[i].Replaces = slices.Clip(r)
				for _, k := range r {
					units[i].Replaces = append(units[i].Replaces, p.pseudonym(k))
					if p.prevPseudonyms != nil {
						units[i].Replaces = append(units[i].Replaces, p.prevPseudonyms(k)...)
					}
				}
			}
			if a := units[i].After; len(a) > 0 {
				units[i].After = make([]string, len(a))
				for j, k := range a {
					if key, behind := queue.BehindKey(k); behind {
						units[i].After[j] = queue.Behind(p.pseudonym(key))
					} else {
						units[i].After[j] = p.pseudonym(k)
					}
				}
			}
			// The room MaxAfter leaves: a unit at the limit (a merge
			// retiring many records) is stored as converted.
			if n := queue.MaxAfter - len(units[i].After); n > 0 && len(behindPrev) > 0 {
				units[i].After = append(slices.Clip(units[i].After), behindPrev[:min(n, len(behindPrev))]...)
			}
		}
	}
	// The units to queue are stored together, in one commit when the queue
	// can (BatchPutter): the parts of one message cost one flush, and no
	// dedup key is remembered before every unit of the input is stored, so
	// a crash between parts never makes a resend look like a duplicate.
	held := p.holdLabels(in, units)
	group := holdGroup(held)
	if err := p.recordReplaced(in, units, held, gen); err != nil {
		return nil, err
	}
	if err := p.recordMerges(in, units, gen); err != nil {
		return nil, err
	}
	if gen != nil && (p.replaced != nil || p.merges != nil) {
		// No replacement may be recorded between this check and the
		// commit: one recorded since the input was converted may
		// replace a version the input writes current, which, queued
		// after that replacement's supersede PATCH, would stay current
		// beside it at the exchange (see replacedGen). Nor a merge: it
		// may retire the patient the input writes (recordMerges).
		p.versions.RLock()
		defer p.versions.RUnlock()
		if gen.of.Load() != gen.at {
			return nil, errStaleVersions
		}
	}
	var puts []*queue.Item
	var putUnits, heldUnits []*Unit
	var heldIDs []string // the held store's entries of heldUnits
	rememberedHeld := false
	defer func() {
		if rememberedHeld {
			return
		}
		// The input is tried again, and its held units are in the held
		// store for good: a unit whose dedup key no other unit of the
		// input shares unheld is remembered, or the retry would hold
		// it a second time (two entries, two releases). A key that a
		// part not stored shares stays forgotten, so that the part is
		// not dropped as a resend; the held part's entry goes instead,
		// for the retry to hold it once.
		for i, u := range heldUnits {
			if onlyHeld(units, heldUnits, u.Dedup) {
				p.remember(in, u)
			} else if err := p.held.Remove(heldIDs[i]); err != nil {
				p.log.Warn("a held part of an input not stored whole stays held, and its retry holds it again", "source", in.Source, inputHash(in), "unit", u.Name, "held", heldIDs[i], "error", err)
			}
		}
	}()
	drop := func(u *Unit) {
		if u.BodyFile != "" {
			os.Remove(u.BodyFile)
		}
	}
	dropPuts := func() {
		for _, u := range putUnits {
			drop(u)
		}
	}
	for i := range units {
		u := &units[i]
		// From here on this unit's spill file is the queue's (which owns
		// it whatever Put returns) or removed by drop.
		handed = i + 1
		if u.Err != nil {
			drop(u)
			if _, qerr := p.quarantine.Put(unitInput(in, u), u.Raw, quarantineReason(u.Err)); qerr != nil {
				dropPuts()
				return nil, fmt.Errorf("%s: %s: quarantine: %w", in.Name, u.Name, qerr)
			}
			p.stats.Quarantined.Add(1)
			failed = append(failed, fmt.Errorf("%s: %w", u.Name, u.Err))
			continue
		}
		p.notePatient(ctx, u)
		if p.seen(u) {
			drop(u)
			u.recycle()
			p.stats.Duplicates.Add(1)
			continue
		}
		if label := heldBy(held, i); label != "" {
			u.sharesKey = sharedQueued(units, held, i)
			hid, err := p.hold(in, u, label, group)
			if err != nil {
				drop(u)
				dropPuts()
				return nil, err
			}
			drop(u)
			heldUnits = append(heldUnits, u)
			heldIDs = append(heldIDs, hid)
			p.noteUnconverted(in, u)
			p.noteRetied(in, u)
			continue
		}
		p.spillLarge(u)
		puts = append(puts, &queue.Item{Key: u.Key, After: u.After, Source: in.Source, Body: u.Bundle, BodyFile: u.BodyFile, Attrs: u.Attrs})
		putUnits = append(putUnits, u)
	}
	if p.quarantine != nil && len(puts) > 0 {
		// A replay records what it commits, so that one cut short after
		// the commit is finished, not queued again (see replaySuffix).
		if err := p.quarantine.noteReplay(p.queue, puts, putUnits); err != nil {
			dropPuts()
			return nil, fmt.Errorf("%s: %s: %w", in.Name, putUnits[0].Name, err)
		}
	}
	if err := p.put(ctx, puts); err != nil {
		return nil, fmt.Errorf("%s: %s: queue: %w", in.Name, putUnits[0].Name, err)
	}
	// The held units' keys are remembered once every unit is stored:
	// the parts of one message share its key, and remembered at the
	// first held part (or before the queue took the rest) it made the
	// rest (a T10's supersede batch, a large message's later parts)
	// look like a resend, dropped.
	for _, u := range heldUnits {
		p.remember(in, u)
	}
	rememberedHeld = true
	copies := false
	if bc, ok := p.queue.(BodyCopier); ok {
		copies = bc.CopiesBody()
	}
	for _, u := range putUnits {
		if copies {
			u.recycle()
		}
		p.stats.Queued.Add(1)
		p.remember(in, u)
		p.noteUnconverted(in, u)
		p.noteRetied(in, u)
	}
	return failed, nil
}

// spillLarge moves a bundle above SpillBytes that a converter made in
// memory (an HL7 v2 message with an embedded PDF: a 16 MiB message's is
// over 30 MB) to a body file of the queue, when the queue is a Spiller,
// as a fax's is written: stored in the queue's log, it was copied into
// the log's write buffer, and read whole into memory again at every
// attempt to deliver it. When the file cannot be written the bundle is
// stored as it is.
func (p *Pipeline) spillLarge(u *Unit) {
	sp, ok := p.queue.(Spiller)
	if !ok || u.BodyFile != "" || len(u.Bundle) <= SpillBytes {
		return
	}
	w, err := sp.CreateBody()
	if err != nil {
		return
	}
	_, err = w.Write(u.Bundle)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(w.Name())
		return
	}
	u.BodyFile = w.Name()
	u.recycle()
	u.Bundle = nil
}

// recordMerges records the merges of the units (but those that failed)
// before any of them is stored. A failure is the disk's (or a merge
// racing another into a cycle, which converting the input again refuses
// as content): the input is tried again, not quarantined.
//
// Recording takes versions exclusively and moves replacedGen on, as a
// replacement does (gen follows when nobody else recorded since the
// conversion): an input converted before the merge was recorded took
// the retired patient for current (its Patient written active, with no
// replaced-by link), and queued after the merge it would reach the
// exchange after it and write the retired record back; so it is either
// committed before the merge is recorded (and delivered before it) or
// converted again, tied to the survivor.
func (p *Pipeline) recordMerges(in adapters.Raw, units []Unit, gen *generation) error {
	if p.merges == nil {
		return nil
	}
	locked := false
	defer func() {
		if locked {
			p.versions.Unlock()
		}
	}()
	for i := range units {
		u := &units[i]
		if u.Err != nil {
			continue
		}
		for _, m := range u.Merges {
			if !locked {
				p.versions.Lock()
				locked = true
			}
			if err := p.merges.Record(m); err != nil {
				return fmt.Errorf("%s: %s: %w", in.Name, u.Name, err)
			}
			if m.Reverse {
				p.log.Info("patient merge turns an earlier one round: the record it had retired is current again (what the exchange filed to the other record meanwhile stays there)", "unit", u.Name)
			}
		}
	}
	if locked {
		gen.follow(&p.replacedGen, p.replacedGen.Add(1))
		gen.follow(&p.mergedGen, p.mergedGen.Add(1))
	}
	return nil
}

// recordReplaced records the replaced documents the units name
// (Unit.Replaces) before any of them is stored, so before the source is
// acknowledged. A crash after it and before the units are queued leaves
// a document marked replaced whose replacement is not queued yet: the
// input was not acknowledged, so the source offers it again and the
// replacement follows; meanwhile the replaced version is written
// superseded, which it is. A failure to record is the input's retryable
// error, as a failure to queue is. Units already seen record their keys
// again (nothing is written for a key present): inputs stored before the
// registry existed count too.
//
// A unit the policy holds (held[i] set) records nothing: it has not
// reached the exchange, where the version it replaces stays the current
// one until a person releases it, and the held entry keeps its keys for
// that (HeldEntry.Replaces).
//
// gen, when not nil, is the registry generation the input was converted
// at (replacedGen): recording moves it on, and when nobody else recorded
// since the conversion gen follows, as the input's own replacements do
// not make its conversion stale.
func (p *Pipeline) recordReplaced(in adapters.Raw, units []Unit, held []string, gen *generation) error {
	if p.replaced == nil {
		return nil
	}
	locked := false
	defer func() {
		if locked {
			p.versions.Unlock()
		}
	}()
	lookup, _ := p.replaced.(interface{ Replaced(key string) bool })
	for i := range units {
		u := &units[i]
		if u.Err != nil || len(u.Replaces) == 0 || heldBy(held, i) != "" {
			continue
		}
		keys := u.Replaces
		if lookup != nil {
			// Keys recorded before (a resend, an input converted again)
			// change no conversion: they do not make others stale.
			keys = slices.DeleteFunc(slices.Clone(keys), lookup.Replaced)
			if len(keys) == 0 {
				continue
			}
		}
		if !locked {
			p.versions.Lock()
			locked = true
		}
		if err := p.replaced.Add(keys...); err != nil {
			return fmt.Errorf("%s: %s: %w", in.Name, u.Name, err)
		}
	}
	if locked {
		gen.follow(&p.replacedGen, p.replacedGen.Add(1))
	}
	return nil
}

// onlyHeld reports whether every unit of units with the dedup key key,
// but those that failed (quarantined, whatever their key) and repeats
// of an earlier one (Unit.repeat), is in held.
func onlyHeld(units []Unit, held []*Unit, key [32]byte) bool {
	for i := range units {
		if u := &units[i]; u.Err == nil && !u.repeat && u.Dedup == key && !slices.Contains(held, u) {
			return false
		}
	}
	return true
}

// sharedQueued reports whether a unit of units that goes to the queue
// (not held, not failed) shares the dedup key of units[i].
func sharedQueued(units []Unit, held []string, i int) bool {
	var zero [32]byte
	for j := range units {
		if j != i && units[j].Err == nil && heldBy(held, j) == "" && units[j].Dedup == units[i].Dedup && units[i].Dedup != zero {
			return true
		}
	}
	return false
}

// heldBy is the label holding unit i (holdLabels), "" when none does.
func heldBy(held []string, i int) string {
	if held == nil {
		return ""
	}
	return held[i]
}

// errStaleVersions is store's answer when a replacement was recorded
// between the input's conversion and its storing: the input is
// converted again, and then sees it (Consume).
var errStaleVersions = errors.New("a document replacement or patient merge was recorded while the input was converted")

// maxReconvert bounds how often Consume converts an input again because
// replacements kept being recorded meanwhile; past it the input is
// refused as a transient failure, for the source to offer again.
const maxReconvert = 3

// noteRetied logs, without PHI, that a stored unit's patient was tied to
// the record an earlier merge kept, and counts it.
func (p *Pipeline) noteRetied(in adapters.Raw, u *Unit) {
	if u.Retied == 0 {
		return
	}
	p.stats.Retied.Add(int64(u.Retied))
	p.log.Info("patient identifier retired by an earlier merge: tied to the surviving patient", "source", in.Source, inputHash(in), "unit", u.Name, "patients", u.Retied)
}

// convert runs the input's converter, the one with a spill file when both
// it and the queue can. A panic in it becomes a *adapters.ConvertPanic: it
// was the input that tripped the converter's bug, so the input is
// quarantined (AE, failed/) like one that cannot be converted, instead of
// being retried into the same panic. Only the converter is covered: a
// panic while storing is no fault of the input, and stays the source's to
// handle as a transient failure.
func (p *Pipeline) convert(ctx context.Context, conv Converter, in adapters.Raw) (units []Unit, err error) {
	defer func() {
		if v := recover(); v != nil {
			// A spill file the converter had begun is left an orphan,
			// which the queue removes when it next opens.
			units, err = nil, &adapters.ConvertPanic{Value: v, Stack: debug.Stack()}
		}
	}()
	sc, canSpill := conv.(SpillConverter)
	sp, queueSpills := p.queue.(Spiller)
	if canSpill && queueSpills {
		return sc.ConvertSpill(ctx, in, sp.CreateBody)
	}
	return conv.Convert(ctx, in)
}

// BatchPutter is implemented by queues that can store several items in one
// commit (diskq.Queue.PutAll); all or none are admitted against the queue's
// limits.
type BatchPutter interface {
	PutAll(ctx context.Context, items []*queue.Item) error
}

// put stores items in order: in one commit when the queue is a
// BatchPutter, one Put after another otherwise.
func (p *Pipeline) put(ctx context.Context, items []*queue.Item) error {
	if len(items) == 0 {
		return nil
	}
	if bp, ok := p.queue.(BatchPutter); ok {
		return bp.PutAll(ctx, items)
	}
	for i, it := range items {
		if err := p.queue.Put(ctx, it); err != nil {
			// The queue owns the files of the items handed to it;
			// the rest are removed here.
			for _, rest := range items[i+1:] {
				if rest.BodyFile != "" {
					os.Remove(rest.BodyFile)
				}
			}
			return err
		}
	}
	return nil
}

// holdLabels decides, before anything of the input is stored, which of
// its units the policy holds: the label holding each ("" for a unit
// that goes to the queue), or nil when no policy is active. A held
// unit's replaced documents are not recorded (recordReplaced). The labels
// of the input's envelope (an XDM package's for its document) hold every
// unit too, whatever the converter made of them: the C-CDA, HL7 v2 and
// FHIR JSON converters write them into their bundles, and this holds
// the units of any other converter, or of one that lost them, all the
// same.
func (p *Pipeline) holdLabels(in adapters.Raw, units []Unit) []string {
	if p.held == nil || !p.policy.Active() {
		return nil
	}
	envLabel, envHeld := "", false
	if env, err := xdmfhir.LabelsFromMeta(in.Meta); err != nil {
		envLabel, envHeld = "unreadable labels", true
	} else {
		envLabel, envHeld = p.policy.HeldLabels(env)
	}
	labels := make([]string, len(units))
	for i := range units {
		u := &units[i]
		if u.Err != nil {
			continue
		}
		var label string
		var held bool
		switch {
		case u.LabelsKnown:
			label, held = p.policy.HeldLabels(u.Labels)
		case u.BodyFile != "":
			label, held = p.policy.HeldFile(u.BodyFile)
		default:
			label, held = p.policy.Held(u.Bundle)
		}
		if !held && envHeld {
			label, held = envLabel, true
		}
		if held {
			labels[i] = label
		}
	}
	return labels
}

// holdGroup returns a new HeldEntry.Group for the units of one input
// when the policy holds more than one of them, "" otherwise.
func holdGroup(held []string) string {
	n := 0
	for _, l := range held {
		if l != "" {
			n++
		}
	}
	if n < 2 {
		return ""
	}
	return ulid.Make().String()
}

// hold stores the unit in the held store because of label, as one of
// group (HeldEntry.Group) when that is not empty.
func (p *Pipeline) hold(in adapters.Raw, u *Unit, label, group string) (string, error) {
	id, err := p.held.PutGroup(in, u, label, group)
	if err != nil {
		return "", fmt.Errorf("%s: %s: held: %w", in.Name, u.Name, err)
	}
	p.stats.Held.Add(1)
	if p.onHeld != nil {
		p.onHeld(in, u, label)
	}
	return id, nil
}

// remember keeps a stored unit's dedup key (best effort, see Deduper).
func (p *Pipeline) remember(in adapters.Raw, u *Unit) {
	var zero [32]byte
	if p.dedup != nil && u.Dedup != zero {
		if err := p.dedup.Remember(u.Dedup); err != nil {
			p.log.Warn("dedup key not kept", "source", in.Source, inputHash(in), "unit", u.Name, "error", err)
		}
	}
}

// inputHash names an input in logs by a prefix of its content hash: the
// folder sources' (the same one their own log lines use), or one of the
// body's. A file name (Raw.Name of a file source) may be the patient's name.
func inputHash(in adapters.Raw) slog.Attr {
	sum := in.Meta["sha256"]
	if len(sum) < 12 {
		h := sha256.Sum256(in.Body)
		sum = hex.EncodeToString(h[:])
	}
	return slog.String("sha256", sum[:12])
}

// seen reports whether the unit was queued before, or repeats one of
// its input stored with it.
func (p *Pipeline) seen(u *Unit) bool {
	var zero [32]byte
	return p.dedup != nil && u.Dedup != zero && (u.repeat || p.dedup.Seen(u.Dedup))
}

// reject quarantines a whole input and returns the permanent error, or a
// retryable one when even the quarantine cannot be written. That one
// names the quarantine's failure, not err, as a unit's does (store): the
// source logs it at every try, and err may quote the input (a C-CDA's
// "invalid character entity &Jones" of a patient named Smith&Jones);
// the reason is kept with the input once the quarantine takes it.
func (p *Pipeline) reject(in adapters.Raw, raw []byte, err error) error {
	if _, qerr := p.quarantine.Put(in, raw, quarantineReason(err)); qerr != nil {
		return fmt.Errorf("%s: not converted, and not quarantined (it is tried again): quarantine: %w", in.Name, qerr)
	}
	p.stats.Quarantined.Add(1)
	return queue.Permanent(err)
}

// quarantineReason is what the quarantine keeps as the reason for err. It
// keeps the raw input (sealed when data at rest is), so for a converter
// panic it may also keep what the converter panicked with and where, for
// whoever fixes the converter. The error returned to the source (the
// ACK's text, the log lines) says only that it panicked.
func quarantineReason(err error) error {
	var cp *adapters.ConvertPanic
	if errors.As(err, &cp) {
		return fmt.Errorf("%w: %v\n\n%s", err, cp.Value, cp.Stack)
	}
	return err
}

// unitInput is in as the quarantine records it for one of its units: with
// Meta["unit"] naming the unit (an NDJSON file's "line 7", a batch's
// message), so that the entry says which part of the file it holds.
func unitInput(in adapters.Raw, u *Unit) adapters.Raw {
	if u.Name == "" {
		return in
	}
	meta := make(map[string]string, len(in.Meta)+1)
	maps.Copy(meta, in.Meta)
	meta["unit"] = u.Name
	in.Meta = meta
	return in
}

func joinUnitErrors(name string, errs []error) error {
	if len(errs) == 1 {
		return fmt.Errorf("%s: %w", name, errs[0])
	}
	return fmt.Errorf("%s: %d unit(s) failed: %w", name, len(errs), errors.Join(errs...))
}
