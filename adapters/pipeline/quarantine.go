package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// Quarantine keeps inputs that could not be converted, each with its
// reason, so nothing is lost: an operator fixes the sender or the mapping
// and replays them. One JSON file per input, written atomically and fsynced
// before the source is told (AE / failed/). With a key (SetKey) the files
// are sealed, since each holds a raw input full of PHI.
type Quarantine struct {
	dir string
	key *seal.Key

	// recent maps the digest of an input and its reason to the entry that
	// holds them, for the inputs quarantined since start (at most
	// maxRecent): a sender answered AR for an unsupported message type
	// resends it, as HL7 asks, and each resend would otherwise add another
	// copy of the same message.
	mu     sync.Mutex
	recent map[[32]byte]string

	// stored, when set (SetStored), is told the id Put returns.
	stored func(id string)

	// deliveries, when set (LogDeliveries), logs the patient keys of the
	// items delivered while the quarantine holds entries, in logging
	// (deliveredLog), for Newer.
	deliveries DeliveryLogger
	logging    bool
	// replaying, when set (Replaying), is the entry whose input is being
	// replayed: what it leaves quarantined again is as old as it.
	replaying *QuarantineEntry
	delivered *deliveries // the delivery log as last read (readLog)
	// replayedBy, when set (SetReplayedBy), names who runs the replays,
	// in their records (replaySuffix).
	replayedBy string
}

// DeliveryLogger logs into a file the patient keys of the items
// delivered from a point on (diskq.Queue.LogDeliveries): the queue's.
type DeliveryLogger interface {
	// LogDeliveries appends to the file at path "<seq> <key>" for each
	// key of each item delivered from now on, and returns the seq the
	// next item stored gets.
	LogDeliveries(path string) uint64
	UnlogDeliveries(path string)
	// NextSeq is the seq the next item stored gets.
	NextSeq() uint64
}

// deliveredLog is the quarantine's log of the patient keys delivered
// while it holds entries (see Newer). It starts with no line, and gets
// "from <seq>": deliveries of the items stored from that seq on are in
// it. Without one, or with an entry stored before it, what was delivered
// is not known.
const deliveredLog = "delivered.log"

// maxRecent bounds Quarantine.recent; past it the map starts over, which
// costs at most one more copy of an input that keeps coming back.
const maxRecent = 4096

// QuarantineEntry is one quarantined input as stored on disk.
type QuarantineEntry struct {
	ID       string            `json:"id"`
	Source   string            `json:"source"`
	Format   string            `json:"format"`
	Name     string            `json:"name"`
	Reason   string            `json:"reason"`
	Received time.Time         `json:"received"`
	Stored   time.Time         `json:"stored"`
	Meta     map[string]string `json:"meta,omitempty"`
	Raw      []byte            `json:"raw"`
	// Since is the queue's seq from which the items stored are newer
	// than this input (DeliveryLogger.NextSeq); 0 when not known (an
	// entry of an earlier release, or stored without a queue).
	Since uint64 `json:"since,omitempty"`
}

// OpenQuarantine creates dir if needed.
func OpenQuarantine(dir string) (*Quarantine, error) {
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create quarantine %q: %w", dir, err)
	}
	return &Quarantine{dir: dir}, nil
}

// SetKey seals the entries written from now on with k (nil: plaintext).
// Entries are read either way: plaintext ones from before encryption was
// turned on stay readable. Call it before the quarantine is used.
func (q *Quarantine) SetKey(k *seal.Key) { q.key = k }

// SetStored makes Put call f with the id of every entry it returns, the
// input stored now or found stored before. The pipeline does not pass the
// id on (the source needs only the permanent error), and `ferry quarantine
// replay` has to know which entry an input that still fails became. Call
// it before the quarantine is used.
func (q *Quarantine) SetStored(f func(id string)) { q.stored = f }

// Put stores raw with its reason and returns the entry id. The same input
// quarantined again for the same reason (same source, format, bytes) is
// not stored twice while the gateway runs: Put returns the first entry's
// id.
func (q *Quarantine) Put(in adapters.Raw, raw []byte, reason error) (string, error) {
	why := reason.Error()
	var cp *adapters.ConvertPanic
	if errors.As(reason, &cp) {
		// A panic's reason ends in its stack, whose goroutine ids and
		// argument words change at every call: the same input panicking
		// again is the same reason.
		why = cp.Error() + fmt.Sprint(cp.Value)
	}
	h := sha256.New()
	for _, s := range []string{in.Source, in.Format, why} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(raw)
	if len(raw) == 0 {
		// No copy kept (a file, or an NDJSON line, too large to
		// keep): the input is told by its name, its digest and the
		// unit of it, or every one quarantined for the same reason
		// would be the first; not by the facts of the attempt.
		for _, s := range []string{in.Name, in.Meta[metaArchiveSHA256], in.Meta[folder.MetaSHA256], in.Meta["unit"]} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	var sum [32]byte
	h.Sum(sum[:0])
	q.mu.Lock()
	id, seen := q.recent[sum]
	q.mu.Unlock()
	if seen {
		if _, err := os.Stat(filepath.Join(q.dir, id+".json")); err == nil {
			q.notify(id)
			return id, nil
		}
	}
	id, err := q.put(in, raw, reason)
	if err == nil {
		q.mu.Lock()
		if q.recent == nil || len(q.recent) >= maxRecent {
			q.recent = make(map[[32]byte]string)
		}
		q.recent[sum] = id
		q.mu.Unlock()
		q.notify(id)
	}
	return id, err
}

func (q *Quarantine) notify(id string) {
	if q.stored != nil {
		q.stored(id)
	}
}

func (q *Quarantine) put(in adapters.Raw, raw []byte, reason error) (string, error) {
	since, err := q.startLog()
	if err != nil {
		return "", fmt.Errorf("store quarantine entry: %w", err)
	}
	id := ulid.Make().String()
	q.mu.Lock()
	if r := q.replaying; r != nil {
		// Data of the patient delivered since the input was first
		// quarantined is newer than it still.
		since = r.Since
		// And it keeps its place: entry ids sort by the time they were
		// quarantined, the order a replay takes them in, and as the
		// newest entry it would be replayed after the patient's later
		// inputs (an A01 after its A08).
		id = replayedID(r.ID)
	}
	q.mu.Unlock()
	e := QuarantineEntry{
		Since:    since,
		ID:       id,
		Source:   in.Source,
		Format:   in.Format,
		Name:     in.Name,
		Reason:   reason.Error(),
		Received: in.Received,
		Stored:   time.Now().UTC(),
		Meta:     in.Meta,
		Raw:      raw,
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode quarantine entry: %w", err)
	}
	if err := remakeDir(q.dir); err != nil {
		return "", fmt.Errorf("store quarantine entry: %w", err)
	}
	err = writeEntry(filepath.Join(q.dir, e.ID+".json"), q.key, e.ID, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store quarantine entry: %w", err)
	}
	return e.ID, nil
}

// LogDeliveries makes the quarantine log, through c, the patient keys of
// the items delivered while it holds entries, which Newer reads at a
// replay. Call it before the quarantine is used, holding the queue's
// lock. An empty quarantine starts afresh; one that holds entries goes on
// logging into its log (nothing was delivered while the queue was shut),
// or, without one, starts a new one, before which what was delivered is
// not known.
func (q *Quarantine) LogDeliveries(c DeliveryLogger) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deliveries = c
	ids, err := q.List()
	if err != nil {
		return err
	}
	path := filepath.Join(q.dir, deliveredLog)
	if len(ids) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("quarantine: %w", err)
		}
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		c.LogDeliveries(path)
		q.logging = true
		return nil
	}
	_, err = q.startLogLocked()
	return err
}

// Replaying makes the entries stored from now on, until Replaying(nil),
// as old as e, whose input is being replayed: each keeps e's Since, so
// that the data of its patient delivered since e was quarantined is still
// newer than it at its next replay.
func (q *Quarantine) Replaying(e *QuarantineEntry) {
	q.mu.Lock()
	q.replaying = e
	q.mu.Unlock()
}

// SetReplayedBy names who runs the replays from now on (an opaque line
// of text, no newline): it is written into each replay's record, so that
// the process that finishes a replay cut short can name that person in
// its audit event (ReplayFinished.By), not only itself.
func (q *Quarantine) SetReplayedBy(by string) {
	q.mu.Lock()
	q.replayedBy = strings.ReplaceAll(by, "\n", " ")
	q.mu.Unlock()
}

// maxIDLen bounds the ids of entries a replay quarantines again, which
// grow by a ULID at each replay that still fails: past it, the new id is
// made from the first entry's ULID, which keeps its place among other
// inputs' entries.
const maxIDLen = 4 * (ulid.EncodedSize + 1)

// replayedID is the id of an entry stored for an input replayed from the
// quarantine entry id (quarantined again, or held): "<id>-<new ULID>",
// which sorts right after id and before the id of any entry stored after
// it, in the quarantine or the held store (ids of both are ULIDs, which
// sort by time), so that the input keeps the place of its arrival among
// its patient's inputs. Past maxIDLen, the first ULID of id is taken.
func replayedID(id string) string {
	if len(id) > maxIDLen {
		id = id[:ulid.EncodedSize]
	}
	return id + "-" + ulid.Make().String()
}

// startLog starts the delivery log, when there is a logger and it is not
// logging yet, and returns the entry's Since.
func (q *Quarantine) startLog() (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.startLogLocked()
}

func (q *Quarantine) startLogLocked() (uint64, error) {
	if q.deliveries == nil {
		return 0, nil
	}
	if !q.logging {
		// The file is made empty, then logged into, and only then does it
		// get its "from": a delivery logged before is of an item stored
		// after it, and none stored at or after it goes unlogged.
		path := filepath.Join(q.dir, deliveredLog)
		if err := remakeDir(q.dir); err != nil {
			return 0, err
		}
		if err := durable.WriteFile(path, nil, 0o600); err != nil {
			return 0, err
		}
		from := q.deliveries.LogDeliveries(path)
		if err := appendSynced(path, fmt.Appendf(nil, "from %d\n", from)); err != nil {
			q.deliveries.UnlogDeliveries(path)
			os.Remove(path)
			return 0, err
		}
		q.logging = true
	}
	return q.deliveries.NextSeq(), nil
}

func appendSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Newer reports how many items of keys (patient keys, as Item.Key and
// After name them), stored after e was quarantined, were delivered since
// (at least: the queue keeps only a patient's last delivery once the log
// is large, see diskq's compactLog), and whether that is known: not for an entry of an earlier release, nor
// when the log was lost or started after it (see LogDeliveries). Keys it
// only waits behind (queue.Behind) are left out; with none left there is
// nothing newer.
func (q *Quarantine) Newer(e *QuarantineEntry, keys []string) (n int, known bool) {
	want := map[string]bool{}
	for _, k := range keys {
		if _, behind := queue.BehindKey(k); k != "" && !behind {
			want[k] = true
		}
	}
	if len(want) == 0 {
		return 0, true
	}
	if e.Since == 0 {
		return 0, false
	}
	log, err := q.readLog()
	if err != nil || log.from == 0 || e.Since < log.from {
		return 0, false
	}
	for k := range want {
		for _, seq := range log.seqs[k] {
			if seq >= e.Since {
				n++
			}
		}
	}
	return n, true
}

// deliveries is the delivery log as read: its "from", and the seqs
// logged per key.
type deliveries struct {
	from uint64
	seqs map[string][]uint64
	// size and mod are the file's when read.
	size int64
	mod  time.Time
}

// readLog reads the delivery log, or returns it as last read when the
// file has not changed since (a replay weighs every entry against it).
func (q *Quarantine) readLog() (*deliveries, error) {
	path := filepath.Join(q.dir, deliveredLog)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	d := q.delivered
	q.mu.Unlock()
	if d != nil && d.size == fi.Size() && d.mod.Equal(fi.ModTime()) {
		return d, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d = &deliveries{seqs: map[string][]uint64{}, size: fi.Size(), mod: fi.ModTime()}
	for line := range strings.Lines(string(b)) {
		a, k, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if a == "from" {
			d.from, _ = strconv.ParseUint(k, 10, 64)
			continue
		}
		if seq, err := strconv.ParseUint(a, 10, 64); err == nil {
			d.seqs[k] = append(d.seqs[k], seq)
		}
	}
	q.mu.Lock()
	q.delivered = d
	q.mu.Unlock()
	return d, nil
}

// List returns the stored entries' ids, oldest first.
func (q *Quarantine) List() ([]string, error) {
	return listEntries(q.dir, "quarantine", nil)
}

// Has reports whether the entry id is stored.
func (q *Quarantine) Has(id string) bool {
	_, err := os.Stat(filepath.Join(q.dir, filepath.Base(id)+".json"))
	return err == nil
}

// Get reads one entry.
func (q *Quarantine) Get(id string) (*QuarantineEntry, error) {
	return readEntry[QuarantineEntry](q.dir, id, q.key, "quarantine entry")
}

// Remove deletes an entry, once it has been replayed or purged by an
// operator. The record of its replay (replaySuffix), if any, stays for
// FinishReplays, which the replay runs at its end and the next process
// holding the queue at its start: removed unfinished (a purge run after a
// replay was killed, or while one runs in another terminal), the keys of
// what the replay queued never reached the duplicate filter, and the
// sender's resend of the input was queued again. It does not read the
// entry, so one sealed with a lost key can still be purged.
func (q *Quarantine) Remove(id string) error {
	id = filepath.Base(id)
	if err := os.Remove(filepath.Join(q.dir, id+".json")); err != nil {
		return fmt.Errorf("remove quarantine entry %s: %w", id, err)
	}
	return durable.SyncDir(q.dir)
}

// replaySuffix names the record of a replay begun: <id>.replay holds a
// line "<queue item ID> <dedup key in hex> <patient key>" for each item
// the replay of entry id is about to commit to the queue, appended and
// fsynced before the commit (noteReplay), after a first line "by <who>"
// when SetReplayedBy named who runs it (an older record has neither the
// line nor the patient keys). A replay cut short (the command killed, the
// power lost) between a commit and the entry's removal left the input's
// bundles queued and its entry listed, and the duplicate filter's keys of
// them perhaps not on disk yet (Deduper.Remember): replayed again, it was
// queued again, and a second copy reached the exchange (a fax's Binary
// POST files the document twice). The next process that holds the queue
// finishes it (FinishReplays): the keys of the items committed are
// written to the duplicate filter, so that the next replay drops what is
// queued and queues what is not (a stream's later batches).
const replaySuffix = ".replay"

// noteReplay records, when the input in hand is a replay (Replaying),
// the items about to be committed to qu for it, with the dedup keys of
// their units, before the commit (see replaySuffix). A queue that does not
// assign item IDs ahead (not diskq) is not noted.
func (q *Quarantine) noteReplay(qu Putter, items []*queue.Item, units []*Unit) error {
	q.mu.Lock()
	r, by := q.replaying, q.replayedBy
	q.mu.Unlock()
	ider, ok := qu.(interface{ ItemID(it *queue.Item) string })
	if r == nil || !ok || len(items) == 0 {
		return nil
	}
	var b []byte
	for i, it := range items {
		b = fmt.Appendf(b, "%s %x %s\n", ider.ItemID(it), units[i].Dedup, it.Key)
	}
	path := filepath.Join(q.dir, filepath.Base(r.ID)+replaySuffix)
	var err error
	if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
		if by != "" {
			b = append([]byte("by "+by+"\n"), b...)
		}
		err = durable.WriteFile(path, b, 0o600)
	} else {
		err = appendSynced(path, b)
	}
	if err != nil {
		return fmt.Errorf("record replay of quarantine entry %s: %w", filepath.Base(r.ID), err)
	}
	return nil
}

// ReplayFinished is a replay cut short after it queued a part of its
// input, which FinishReplays finished: what its audit event names, since
// the replay may not have recorded it.
type ReplayFinished struct {
	ID string // the quarantine entry replayed
	// Listed: the entry is still listed (cut short before its removal),
	// for the next replay, which finds what was queued queued before.
	Listed bool
	// Queued are the queue items the replay committed, and Patients
	// the patient key of each ("" in an older record).
	Queued   []string
	Patients []string
	// By is who ran the replay, as SetReplayedBy named them; "" when the
	// record does not say.
	By string
}

// FinishReplays completes the replays a crash cut short (replaySuffix):
// the dedup keys of the items of each that the queue holds (whose commit
// was done) are added to seen, on disk when it returns, and the record is
// removed. The entries stay, for the next replay, which finds their
// queued bundles queued before, and queues what was not. It returns the
// replays some of whose items were queued, whether or not the entry is
// still listed (a replay cut short after removing it, before it recorded
// its event, finished too). Call it with the queue's lock held, before
// the queue stores or delivers anything (an item delivered is no longer
// held, and its key would be left out).
func (q *Quarantine) FinishReplays(queued func(qid string) bool, seen interface{ Add(key [32]byte) error }) ([]ReplayFinished, error) {
	des, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	var done []ReplayFinished
	var errs []error
	for _, de := range des {
		id, ok := strings.CutSuffix(de.Name(), replaySuffix)
		if !ok || durable.IsTemp(de.Name()) {
			continue
		}
		path := filepath.Join(q.dir, de.Name())
		err := func() error {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			r := ReplayFinished{ID: id}
			for line := range strings.Lines(string(b)) {
				qid, v, _ := strings.Cut(strings.TrimSpace(line), " ")
				if qid == "by" {
					r.By = v
					continue
				}
				if qid == "" || !queued(qid) {
					continue // cut short before its commit, or torn
				}
				v, patient, _ := strings.Cut(v, " ")
				r.Queued, r.Patients = append(r.Queued, qid), append(r.Patients, patient)
				var k [32]byte
				if n, err := hex.Decode(k[:], []byte(v)); err == nil && n == len(k) && k != [32]byte{} {
					if err := seen.Add(k); err != nil {
						return err
					}
				}
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if len(r.Queued) > 0 {
				_, err := os.Stat(filepath.Join(q.dir, id+".json"))
				r.Listed = err == nil
				done = append(done, r)
			}
			return nil
		}()
		if err != nil {
			errs = append(errs, fmt.Errorf("finish the replay of quarantine entry %s: %w", id, err))
		}
	}
	if len(errs) > 0 {
		return done, errors.Join(errs...)
	}
	return done, durable.SyncDir(q.dir)
}

// RemoveTemps removes the temporary files an interrupted write left in
// the store (a crash between creating an entry and committing it): no
// listing shows them, so nothing else ever would, and without a key they
// hold an input in the clear. Only the process that writes entries may
// call it (the gateway, or a command holding the queue's lock), since
// another's write in progress looks the same.
func (q *Quarantine) RemoveTemps() error { return removeTemps(q.dir) }

// RemoveTemps is Quarantine.RemoveTemps for the held store; it removes
// too the files an entry keeps beside it whose entry is gone.
func (h *Held) RemoveTemps() error {
	return errors.Join(removeTemps(h.dir), h.removeOrphans())
}

// removeOrphans deletes the files an entry keeps beside it (its spilled
// bundle, its count of later deliveries, its release record) whose entry
// is not there: a crash while an entry was stored (after the bundle was
// copied in, before the entry was committed) or removed left them, a
// whole document no listing shows and no discard can name.
func (h *Held) removeOrphans() error {
	des, err := os.ReadDir(h.dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", h.dir, err)
	}
	var errs []error
	for _, de := range des {
		n := de.Name()
		if !de.Type().IsRegular() || durable.IsTemp(n) {
			continue
		}
		var id string
		for _, suffix := range []string{".bundle.json", laterSuffix, releaseSuffix} {
			if base, ok := strings.CutSuffix(n, suffix); ok {
				id = base
				break
			}
		}
		if id == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(h.dir, id+".json")); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Remove(filepath.Join(h.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean %s: %w", h.dir, err)
	}
	return nil
}

func removeTemps(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	var errs []error
	for _, de := range des {
		if de.Type().IsRegular() && durable.IsTemp(de.Name()) {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	return nil
}

// listEntries returns the ids of the <id>.json entries in dir, oldest
// first (ids sort by time), leaving out temporary files and names skip
// matches. what names the store in errors.
func listEntries(dir, what string, skip func(name string) bool) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	var ids []string
	for _, de := range des {
		n := de.Name()
		if !strings.HasSuffix(n, ".json") || durable.IsTemp(n) || skip != nil && skip(n) {
			continue
		}
		ids = append(ids, strings.TrimSuffix(n, ".json"))
	}
	sort.Strings(ids)
	return ids, nil
}

// readEntry reads and decodes the entry id of a store in dir, sealed
// with key (aad: the id) or plaintext.
func readEntry[T any](dir, id string, key *seal.Key, what string) (*T, error) {
	id = filepath.Base(id)
	b, err := readEntryFile(filepath.Join(dir, id+".json"), key, id)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, id, err)
	}
	var e T
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", what, id, err)
	}
	return &e, nil
}
