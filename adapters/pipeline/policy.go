package pipeline

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// Policy is the destination's disclosure policy (STANDARDS.md §7): bundles
// carrying one of the Hold security labels are not forwarded but held for
// a person to review (HIPAA minimum necessary, 42 CFR Part 2 consent).
type Policy struct {
	// Hold lists security label codes: v3-Confidentiality codes ("R",
	// "V"), sensitivity codes ("HIV", "SUD", "PSY" ...) or policies
	// ("42CFRPart2"). A confidentiality code holds that level and above:
	// holding "R" also holds "V", since a policy that kept restricted
	// content back but let very restricted content through would be a
	// downgrade.
	Hold []string
	// Open opens a spill file (Unit.BodyFile) for HeldFile; nil means
	// os.Open. A queue that seals its spill files at rest gives its own
	// reader here.
	Open func(path string) (io.ReadCloser, error)
}

// confLevel orders v3-Confidentiality codes (U < L < M < N < R < V).
var confLevel = map[string]int{"U": 1, "L": 2, "M": 3, "N": 4, "R": 5, "V": 6}

// Active reports whether the policy holds anything.
func (p Policy) Active() bool { return len(p.Hold) > 0 }

// Held reports whether bundle (FHIR JSON) carries a label the policy holds,
// and which. A bundle whose labels cannot be read is held ("unreadable
// labels"): when in doubt, nothing leaves.
//
// Every resource in it counts, however deep: a FHIR JSON drop passes
// through as it was exported, so a label may sit on a contained resource,
// on a resource of a document Bundle carried as an entry, or in a
// DocumentReference's securityLabel (DS4P: the document's high-water
// mark), not only on the Bundle and its entries' own meta. HeldReader
// scans a spilled bundle with the same scanner (labelscan.go), so the two
// always agree; string values other than keys and labels (base64 data
// included) are skipped, never kept.
func (p Policy) Held(bundle []byte) (label string, held bool) {
	if !p.Active() {
		return "", false
	}
	return heldVerdict(newLabelScannerBytes(p, bundle).held())
}

// heldVerdict turns a scan's result into Held's: an error holds.
func heldVerdict(label string, held bool, err error) (string, bool) {
	if err != nil {
		return "unreadable labels", true
	}
	return label, held
}

// HeldLabels is Held for a bundle whose converter listed its labels
// (Unit.Labels).
func (p Policy) HeldLabels(labels []fhir.Coding) (label string, held bool) {
	for _, c := range labels {
		if l, ok := p.matchCode(c.System, c.Code); ok {
			return l, true
		}
	}
	return "", false
}

// HeldFile is Held for a bundle spilled to a file (a fax or a FHIR JSON
// drop of hundreds of MB). It scans every depth as Held does, in one pass
// through a fixed buffer: string contents (base64 data) are skipped, not
// loaded. A file whose labels cannot be read is held.
func (p Policy) HeldFile(path string) (label string, held bool) {
	if !p.Active() {
		return "", false
	}
	open := p.Open
	if open == nil {
		open = func(path string) (io.ReadCloser, error) { return os.Open(path) }
	}
	f, err := open(path)
	if err != nil {
		return "unreadable labels", true
	}
	defer f.Close()
	return p.HeldReader(f)
}

// HeldReader is HeldFile for a bundle read from r.
func (p Policy) HeldReader(r io.Reader) (label string, held bool) {
	if !p.Active() {
		return "", false
	}
	return heldVerdict(newLabelScannerReader(p, r).held())
}

// matchCode reports whether one label is held, and by which code.
func (p Policy) matchCode(system, code string) (string, bool) {
	conf := fhir.IsConfidentialitySystem(system)
	if conf {
		// Written in any case and under any of the system's names, as
		// fhir.ConfidentialityOf ranks it everywhere else: "r" outranks
		// an envelope's N, so it is R here too.
		code = strings.ToUpper(code)
	} else if c, _, ok := fhir.SecurityCode(code); ok {
		// A v3-ActCode code in another case ("42CFRPART2", "hiv"), as
		// fhir.CodingKind and the high-water marks read it: a Part 2
		// record so labelled is still one.
		code = c
	}
	for _, h := range p.Hold {
		if code == h {
			return h, true
		}
		// A confidentiality hold covers the higher levels too, under
		// whatever system the held code itself counts (above): one
		// that holds R but sends V so written would be a downgrade
		// (an engine's v2 table 0177 or 0272, a ValueSet's URL).
		if hl, ok := confLevel[h]; ok {
			if sl, ok := confLevel[code]; ok && sl >= hl {
				return code, true
			}
		}
	}
	return "", false
}

// Held keeps the bundles the policy holds, each with its reason, until a
// person releases or discards them: one JSON file per unit, written and
// fsynced like the quarantine's before the source is acknowledged. With a
// key (SetKey) the entry files and spilled bundles are sealed.
type Held struct {
	dir       string
	key       *seal.Key
	openSpill func(path string) (io.ReadCloser, error)
	counter   LaterCounter
	// replaying is the quarantine entry whose input is being replayed
	// (Replaying), "" when none.
	replaying string
}

// LaterCounter counts into a file the deliveries of a patient's items
// stored from a point on (diskq.Queue.Track): the queue's, for the held
// entries (Held.Later).
type LaterCounter interface {
	// Track counts in the file at path the deliveries of the items of
	// keys stored at seq from or later (0: from now on), returning that
	// seq.
	Track(path string, from uint64, keys []string) uint64
	Untrack(path string)
}

// laterSuffix names an entry's count of the newer items of its patient
// delivered since it was held: <id>.later, one byte a delivery. It is
// made empty with the entry (with a LaterCounter), so a missing one
// means "not known" (an entry held by an earlier release).
const laterSuffix = ".later"

// HeldEntry is one held unit as stored on disk. Bundle is the converted
// FHIR bundle; a spilled bundle is stored next to the entry as
// <id>.bundle.json and named by BundleFile.
type HeldEntry struct {
	ID         string            `json:"id"`
	Source     string            `json:"source"`
	Format     string            `json:"format"`
	Name       string            `json:"name"`
	Unit       string            `json:"unit"`
	Label      string            `json:"label"`
	Reason     string            `json:"reason"`
	Key        string            `json:"key,omitempty"`
	After      []string          `json:"after,omitempty"` // Unit.After
	Attrs      map[string]string `json:"attrs,omitempty"`
	Received   time.Time         `json:"received"`
	Stored     time.Time         `json:"stored"`
	Bundle     json.RawMessage   `json:"bundle,omitempty"`
	BundleFile string            `json:"bundleFile,omitempty"`
	// Replaces are the unit's keys for the registry of replaced
	// documents (Unit.Replaces): a held replacement has not reached the
	// exchange, so they are recorded when a person releases it, not
	// when it is held (see Pipeline.recordReplaced).
	Replaces []string `json:"replaces,omitempty"`
	// Since is the queue's seq from which the items stored are newer
	// than this entry (LaterCounter.Track); 0 when not tracked. Their
	// deliveries are counted in <id>.later.
	Since uint64 `json:"since,omitempty"`
	// Group is shared by the entries one input left held together (an
	// MDM T10's document and the batch that marks the version it
	// replaces superseded), which go back or away together: released
	// alone, that batch would leave the exchange with no current
	// version. Empty for an entry held alone.
	Group string `json:"group,omitempty"`
	// Dedup is the dedup key of the unit (Unit.Dedup, in hex), empty
	// when it has none or shares it with a part of its input that was
	// to be queued (Unit.sharesKey): the duplicate filter is told it
	// again when a replay that held the unit was cut short
	// (FinishReplays); a shared key is told it with that part, once the
	// part is known queued (Quarantine.FinishReplays), else that part
	// would be dropped as a resend.
	Dedup string `json:"dedup,omitempty"`
	// Shares is the dedup key (in hex) Dedup leaves out, that of a
	// unit shared with a part of the input to be queued: a replay cut
	// short before that part was queued left this entry held, and the
	// next replay holds the unit again (the key must stay forgotten for
	// that part), so FinishReplays removes the entry then.
	Shares string `json:"shares,omitempty"`
}

// OpenHeld creates dir if needed.
func OpenHeld(dir string) (*Held, error) {
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create held store %q: %w", dir, err)
	}
	return &Held{dir: dir}, nil
}

// SetKey seals the entries (and spilled bundles) written from now on with
// k (nil: plaintext). Entries are read either way: plaintext ones from
// before encryption was turned on stay readable. Call it before use.
func (h *Held) SetKey(k *seal.Key) { h.key = k }

// SetSpillOpener sets how Put reads a unit's spill file (Unit.BodyFile);
// nil means os.Open. A queue that seals its spill files gives its reader.
func (h *Held) SetSpillOpener(open func(path string) (io.ReadCloser, error)) { h.openSpill = open }

// Dir is the store's directory.
func (h *Held) Dir() string { return h.dir }

// SetLaterCounter makes Put count, through c, the newer items of each
// held entry's patient delivered while it is held (see Later). Call
// Track with c too, for the entries already held.
func (h *Held) SetLaterCounter(c LaterCounter) { h.counter = c }

// Track has c count on for each tracked entry held (after a restart).
func (h *Held) Track(c LaterCounter) error {
	ids, err := h.List()
	if err != nil {
		return err
	}
	for _, id := range ids {
		path := filepath.Join(h.dir, id+laterSuffix)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		e, err := h.Get(id)
		if err != nil || e.Since == 0 {
			continue // counted as not known
		}
		c.Track(path, e.Since, e.keys())
	}
	return nil
}

// newID is a new entry's id (see Replaying).
func (h *Held) newID() string {
	if h.replaying != "" {
		return replayedID(h.replaying)
	}
	return ulid.Make().String()
}

// keys are the queue keys e is ordered under: Key, and its After keys.
func (e *HeldEntry) keys() []string {
	return append([]string{e.Key}, e.After...)
}

// ordered reports whether e has a patient's items to come after it: a
// Key, or an After key it does not only wait behind (queue.Behind).
func (e *HeldEntry) ordered() bool {
	return e.Key != "" || slices.ContainsFunc(e.After, func(k string) bool { _, behind := queue.BehindKey(k); return !behind })
}

// Later reports how many newer items of e's patient were delivered
// while e was held, and whether that is known: not for an entry held
// before this was counted, nor when its count could not be written. An
// entry without a patient has nothing after it.
//
// None counted is not known either for an entry stored under another
// data-at-rest key than the store's (held before a key rotation, or
// before encryption was turned on or off): its Key is its patient's
// pseudonym under that key, and the patient's items queued since carry
// another, so their deliveries were not counted against it.
func (h *Held) Later(e *HeldEntry) (n int, known bool) {
	fi, err := os.Stat(filepath.Join(h.dir, filepath.Base(e.ID)+laterSuffix))
	switch {
	case err == nil && e.Since > 0:
		if fi.Size() == 0 && h.rekeyed(e) {
			return 0, false
		}
		return int(fi.Size()), true
	case !e.ordered():
		return 0, true
	}
	return 0, false
}

// rekeyed reports whether e's entry file was sealed with another key
// than the store's, or left in clear while the store has one (or the
// other way round), or that cannot be told.
func (h *Held) rekeyed(e *HeldEntry) bool {
	f, err := os.Open(filepath.Join(h.dir, filepath.Base(e.ID)+".json"))
	if err != nil {
		return true
	}
	defer f.Close()
	head := make([]byte, seal.StreamHeaderLen)
	n, _ := io.ReadFull(f, head)
	id, sealed := seal.KeyIDOf(head[:n])
	if h.key == nil {
		return sealed
	}
	return !sealed || id != h.key.ID()
}

// Replaying makes the entries held from now on, until Replaying(""),
// those of the input replayed from the quarantine entry id: their ids
// sort at its place (replayedID), by the input's arrival, not as the
// newest held. A release goes in the order held, and the input's A01,
// held after its patient's A08 that came after it, would otherwise be
// released after that A08 and overwrite it at the exchange. Call it
// between Consumes, never while one runs.
func (h *Held) Replaying(id string) { h.replaying = id }

// Put stores unit u of input in, held because of label, and returns the
// entry id. A spilled bundle (u.BodyFile) is copied into the store; the
// caller still owns and removes u.BodyFile.
func (h *Held) Put(in adapters.Raw, u *Unit, label string) (string, error) {
	return h.PutGroup(in, u, label, "")
}

// PutGroup is Put for one of the entries an input leaves held together,
// group naming them all (HeldEntry.Group).
func (h *Held) PutGroup(in adapters.Raw, u *Unit, label, group string) (string, error) {
	e := HeldEntry{
		Group:    group,
		ID:       h.newID(),
		Source:   in.Source,
		Format:   in.Format,
		Name:     in.Name,
		Unit:     u.Name,
		Label:    label,
		Reason:   "held by policy: " + label,
		Key:      u.Key,
		After:    u.After,
		Attrs:    u.Attrs,
		Replaces: u.Replaces,
		Received: in.Received,
		Stored:   time.Now().UTC(),
	}
	if u.Dedup != ([32]byte{}) && !u.sharesKey {
		e.Dedup = hex.EncodeToString(u.Dedup[:])
	} else if u.Dedup != ([32]byte{}) {
		e.Shares = hex.EncodeToString(u.Dedup[:])
	}
	if err := remakeDir(h.dir); err != nil {
		return "", fmt.Errorf("store held entry: %w", err)
	}
	if u.BodyFile != "" {
		e.BundleFile = e.ID + ".bundle.json"
		if err := h.copySpill(u.BodyFile, e); err != nil {
			return "", fmt.Errorf("store held bundle: %w", err)
		}
	} else if json.Valid(u.Bundle) {
		e.Bundle = u.Bundle
	} else {
		e.Bundle, _ = json.Marshal(string(u.Bundle))
	}
	// The newer items of the patient delivered while the entry is held
	// are counted from now on: released after them, it would write older
	// data on top of newer at the exchange (`ferry held release` says so).
	later := ""
	if h.counter != nil && e.ordered() {
		later = filepath.Join(h.dir, e.ID+laterSuffix)
		if err := durable.WriteFile(later, nil, 0o600); err != nil {
			if e.BundleFile != "" {
				os.Remove(h.bundlePath(&e))
			}
			return "", fmt.Errorf("store held entry: %w", err)
		}
		e.Since = h.counter.Track(later, 0, e.keys())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(e); err != nil {
		return "", fmt.Errorf("encode held entry: %w", err)
	}
	err := writeEntry(filepath.Join(h.dir, e.ID+".json"), h.key, e.ID, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
	if err != nil {
		if e.BundleFile != "" {
			os.Remove(h.bundlePath(&e))
		}
		if later != "" {
			h.counter.Untrack(later)
			os.Remove(later)
		}
		return "", fmt.Errorf("store held entry: %w", err)
	}
	return e.ID, nil
}

// copySpill copies a unit's spill file into the store as e's bundle
// file, sealed when the store has a key (aad: bundleAAD).
func (h *Held) copySpill(src string, e HeldEntry) error {
	if h.key == nil && h.openSpill == nil {
		return durable.CopyFile(src, h.bundlePath(&e), 0o600)
	}
	open := h.openSpill
	if open == nil {
		open = func(path string) (io.ReadCloser, error) { return os.Open(path) }
	}
	r, err := open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	return writeEntry(h.bundlePath(&e), h.key, bundleAAD(e.ID), func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// bundleAAD binds a spilled bundle file to its entry, apart from the
// entry file itself.
func bundleAAD(id string) string { return id + ".bundle" }

// WithGroups returns ids with the other entries of each one's group
// (HeldEntry.Group) added, every group in the order its entries were
// held, and which entries were added, with the id that brought each.
// An id that cannot be read stays as it is, for the caller to report;
// another entry that cannot be read, met while a group is gathered, is
// an error, as it may be one of the group.
func (h *Held) WithGroups(ids []string) (all []string, added map[string]string, err error) {
	groups := map[string][]string{} // group -> its ids, oldest first; read once
	for _, id := range ids {
		e, gerr := h.Get(id)
		if gerr != nil || e.Group == "" {
			if !slices.Contains(all, id) {
				all = append(all, id)
			}
			continue
		}
		members, ok := groups[e.Group]
		if !ok {
			listed, lerr := h.List()
			if lerr != nil {
				return nil, nil, lerr
			}
			for _, other := range listed {
				o, oerr := h.Get(other)
				if oerr != nil {
					// Whether it is of this group cannot be told, and
					// left out, a supersede batch could go without its
					// document: refused until it is readable or
					// discarded (discarding it names it alone).
					return nil, nil, fmt.Errorf("%s is held with other entries of its input, and held entry %s cannot be read, so whether it is one of them is not known (make it readable, or discard it first): %w", id, other, oerr)
				}
				if o.Group == e.Group {
					members = append(members, other)
				}
			}
			groups[e.Group] = members
		}
		for _, m := range members {
			if slices.Contains(all, m) {
				continue
			}
			all = append(all, m)
			if m != id && !slices.Contains(ids, m) {
				if added == nil {
					added = map[string]string{}
				}
				added[m] = id
			}
		}
	}
	return all, added, nil
}

// List returns the held entries' ids, oldest first.
func (h *Held) List() ([]string, error) {
	return listEntries(h.dir, "held store", func(n string) bool { return strings.HasSuffix(n, ".bundle.json") })
}

// Get reads one entry.
func (h *Held) Get(id string) (*HeldEntry, error) {
	if err := notBundleFile(id); err != nil {
		return nil, err
	}
	return readEntry[HeldEntry](h.dir, id, h.key, "held entry")
}

// notBundleFile refuses an id that names an entry's spilled bundle
// (<id>.bundle.json, as a listing of the folder shows it) rather than an
// entry: taken for an entry, its Remove would delete that entry's bundle.
func notBundleFile(id string) error {
	if strings.HasSuffix(filepath.Base(id), ".bundle") {
		return fmt.Errorf("held entry %s: the bundle file of entry %s, not an entry: %w", filepath.Base(id),
			strings.TrimSuffix(filepath.Base(id), ".bundle"), fs.ErrNotExist)
	}
	return nil
}

// Remove deletes a held entry and its spilled bundle, after it has been
// released into the queue or discarded by an operator. It does not read
// the entry (Put names the bundle file after the id), so an entry sealed
// with a lost key can still be discarded.
func (h *Held) Remove(id string) error {
	id = filepath.Base(id)
	if err := notBundleFile(id); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(h.dir, id+".json")); err != nil {
		return fmt.Errorf("remove held entry %s: %w", id, err)
	}
	if err := os.Remove(h.bundlePath(&HeldEntry{BundleFile: id + ".bundle.json"})); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove held bundle %s: %w", id, err)
	}
	if err := os.Remove(filepath.Join(h.dir, id+".json")); err != nil {
		return fmt.Errorf("remove held entry %s: %w", id, err)
	}
	if err := os.Remove(filepath.Join(h.dir, id+laterSuffix)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove held entry %s: %w", id, err)
	}
	if err := os.Remove(filepath.Join(h.dir, id+releaseSuffix)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove held entry %s: %w", id, err)
	}
	return durable.SyncDir(h.dir)
}

// releaseSuffix names the record of a release begun: <id>.release holds
// the ID of the queue item the entry is being put in as, and on a second
// line who runs the release (an older record has no second line). It is
// written
// and fsynced before the Put, so that a release cut short (the command
// killed, the power lost) between the Put and the entry's removal is
// finished by the next process that holds the queue (FinishReleases)
// rather than queued again: a second copy reaches the exchange, where a
// fax's Binary POST files the document twice.
const releaseSuffix = ".release"

// BeginRelease records durably that entry id is about to be put into the
// queue as item qid, released by the person by names (an opaque line of
// text, which Releasing returns, so that what finishes a release cut
// short can name them). Call it with the queue's lock held, before the
// Put; Remove the entry once the Put returned, or CancelRelease when the
// item is not (or no longer) in the queue.
func (h *Held) BeginRelease(id, qid, by string) error {
	id = filepath.Base(id)
	rec := qid
	if by != "" {
		rec += "\n" + strings.ReplaceAll(by, "\n", " ")
	}
	if err := durable.WriteFile(filepath.Join(h.dir, id+releaseSuffix), []byte(rec), 0o600); err != nil {
		return fmt.Errorf("record release of held entry %s: %w", id, err)
	}
	return nil
}

// CancelRelease drops the record BeginRelease made: the entry stays held.
func (h *Held) CancelRelease(id string) error {
	id = filepath.Base(id)
	if err := os.Remove(filepath.Join(h.dir, id+releaseSuffix)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("cancel release of held entry %s: %w", id, err)
	}
	return durable.SyncDir(h.dir)
}

// Releasing returns the queue item ID of a release of entry id begun and
// not finished, "" when none was, and who ran it as BeginRelease was
// told ("" when the record does not say).
func (h *Held) Releasing(id string) (qid, by string, err error) {
	b, err := os.ReadFile(filepath.Join(h.dir, filepath.Base(id)+releaseSuffix))
	if os.IsNotExist(err) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("held entry %s: %w", filepath.Base(id), err)
	}
	qid, by, _ = strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(qid), strings.TrimSpace(by), nil
}

// FinishReleases completes the releases a crash cut short (BeginRelease):
// an entry whose item queued reports stored was released, and is
// removed; one whose item it does not was never put, and stays held. It
// returns the entries removed, each with its queue item ID. Call it with
// the queue's lock held and before the queue delivers anything (an item
// delivered is no longer in it, and its entry would be taken for never
// released).
func (h *Held) FinishReleases(queued func(qid string) bool) (map[string]string, error) {
	des, err := os.ReadDir(h.dir)
	if err != nil {
		return nil, fmt.Errorf("read held store: %w", err)
	}
	var done map[string]string
	var errs []error
	for _, de := range des {
		id, ok := strings.CutSuffix(de.Name(), releaseSuffix)
		if !ok || durable.IsTemp(de.Name()) {
			continue
		}
		qid, _, err := h.Releasing(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := os.Stat(filepath.Join(h.dir, id+".json")); os.IsNotExist(err) || qid == "" || !queued(qid) {
			// Never put (or the entry was removed before its record):
			// the entry, if any, stays held.
			if err := h.CancelRelease(id); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := h.Remove(id); err != nil {
			errs = append(errs, fmt.Errorf("finish the release of held entry %s (queued as %s): %w", id, qid, err))
			continue
		}
		if done == nil {
			done = map[string]string{}
		}
		done[id] = qid
	}
	return done, errors.Join(errs...)
}

// FinishReplays completes the replays of quarantined inputs a crash cut
// short after they held a unit (the command killed, the power lost,
// before the entry left the quarantine): the dedup key of each entry
// held by the replay of a quarantine entry still listed (its ID is that
// entry's and a ULID, replayedID) is added to seen, on disk when it
// returns, so that the entry's next replay finds the unit held before,
// and does not hold it again (two entries, two releases, the exchange
// getting it twice). An entry whose key a part of its input to be
// queued shares (HeldEntry.Shares) is kept when seen knows that key (the
// part was queued: Quarantine.FinishReplays told it, so call that
// first), and removed when it does not: the key stays forgotten so that
// the next replay queues that part, and that replay holds the unit again,
// once. It returns the held entries whose keys were told, and those
// removed. Call it with the queue's lock held.
func (h *Held) FinishReplays(quarantined func(id string) bool, seen interface {
	Seen(key [32]byte) bool
	Add(key [32]byte) error
}) (found, removed []string, err error) {
	ids, err := h.List()
	if err != nil {
		return nil, nil, err
	}
	for _, id := range ids {
		i := strings.LastIndexByte(id, '-')
		if i < 0 || !quarantined(id[:i]) {
			continue
		}
		e, err := h.Get(id)
		if err != nil {
			return found, removed, fmt.Errorf("finish the replay that held %s: %w", id, err)
		}
		var k [32]byte
		if n, err := hex.Decode(k[:], []byte(e.Shares)); err == nil && n == len(k) {
			if seen.Seen(k) {
				continue
			}
			if err := h.Remove(id); err != nil {
				return found, removed, fmt.Errorf("finish the replay that held %s: %w", id, err)
			}
			removed = append(removed, id)
			continue
		}
		if n, err := hex.Decode(k[:], []byte(e.Dedup)); err != nil || n != len(k) {
			continue
		}
		if err := seen.Add(k); err != nil {
			return found, removed, fmt.Errorf("finish the replay that held %s: %w", id, err)
		}
		found = append(found, id)
	}
	return found, removed, nil
}

// OpenBundle streams a held entry's bundle, from the entry itself or from
// its spilled file (opened through the key when sealed), with its
// plaintext size.
func (h *Held) OpenBundle(e *HeldEntry) (io.ReadCloser, int64, error) {
	if e.BundleFile == "" {
		return io.NopCloser(bytes.NewReader(e.Bundle)), int64(len(e.Bundle)), nil
	}
	r, f, err := openEntry(h.bundlePath(e), h.key, bundleAAD(filepath.Base(e.ID)))
	if err != nil {
		return nil, 0, fmt.Errorf("open held bundle %s: %w", e.ID, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	size := st.Size()
	head := make([]byte, seal.StreamHeaderLen)
	if n, _ := f.ReadAt(head, 0); seal.IsStream(head[:n]) {
		var ok bool
		if size, ok = seal.PlainSize(head[:n], size); !ok {
			f.Close()
			return nil, 0, fmt.Errorf("open held bundle %s: %d bytes: %w", e.ID, st.Size(), seal.ErrCorrupt)
		}
	}
	return readCloser{r, f}, size, nil
}

func (h *Held) bundlePath(e *HeldEntry) string {
	return filepath.Join(h.dir, filepath.Base(e.BundleFile))
}
