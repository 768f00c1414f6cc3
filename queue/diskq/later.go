package diskq

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// Later deliveries of a dead letter's key. A dead letter lets the later
// items of its key (its patient) through, which keeps care data moving;
// retrying it afterwards sends older data after newer, and the exchange
// may apply it on top (an A01 after the A08 that corrected it). So the
// queue counts, per dead letter, the items of the same key delivered after
// it, in a file beside it, <seq>-<id>.later: one byte per delivery, its
// size the count. It is created empty with the dead letter, so a missing
// file means "not known" (a dead letter from before this existed), which
// the operator is told as such. It holds no PHI. A delivery repeated after
// a crash counts twice: the count errs high, never low.

const laterSuffix = ".later"

// maxTrackedDead bounds the dead letters whose keys Open reads to keep
// counting: reading more would slow every start. Beyond it, the
// dead letters' counts stop growing and retrying one needs --force.
const maxTrackedDead = 20000

// laterFileOf names the count file of a dead letter's JSON file.
func laterFileOf(jsonName string) string {
	return strings.TrimSuffix(jsonName, ".json") + laterSuffix
}

// deadRef is a dead letter whose key's later deliveries are counted, or
// a count file of someone else's (Track): a held bundle's.
type deadRef struct {
	seq   uint64
	later string // the count file's name in the dead-letter folder
	path  string // Track's count file, instead of later
}

// LaterDeliveredError is returned by RetrySafe for a dead letter whose
// patient has had newer items delivered since it was dead-lettered (or
// when that is not known): re-sending it can overwrite newer data.
type LaterDeliveredError struct {
	ID        string
	Delivered int  // items of its key delivered after it
	Known     bool // false: not tracked for this dead letter
	// Waiting is how many newer items of its key are still in the
	// queue: a retry goes behind them, so it would reach the exchange
	// after them.
	Waiting int
}

func (e *LaterDeliveredError) Error() string {
	if !e.Known {
		return fmt.Sprintf("retry %s: items of the same patient may have been delivered since it was dead-lettered (not tracked for this dead letter); re-sending older data can overwrite newer at the exchange; check, then retry with --force", e.ID)
	}
	if e.Delivered == 0 {
		return fmt.Sprintf("retry %s: %d newer item(s) of the same patient are waiting in the queue, and a retry is delivered after them: older data on top of newer at the exchange; check the patient's record there once they are delivered, then retry with --force", e.ID, e.Waiting)
	}
	msg := fmt.Sprintf("retry %s: %d later item(s) of the same patient were delivered after it was dead-lettered; re-sending it now applies older data on top of newer at the exchange; check the patient's record there, then retry with --force", e.ID, e.Delivered)
	if e.Waiting > 0 {
		msg += fmt.Sprintf(" (%d more are waiting in the queue and would be delivered before it too)", e.Waiting)
	}
	return msg
}

// trackDead starts counting the later deliveries of key for the dead
// letter stored as jsonName (item seq).
func (q *Queue) trackDead(key string, seq uint64, jsonName string) {
	if _, behind := queue.BehindKey(key); key == "" || behind {
		// Unordered items, and keys an item only waits behind (see
		// queue.Behind): nothing can be overtaken.
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deadKeys == nil {
		q.deadKeys = map[string][]deadRef{}
	}
	q.deadKeys[key] = append(q.deadKeys[key], deadRef{seq: seq, later: laterFileOf(jsonName)})
	q.deadKeyN.Store(int64(len(q.deadKeys)))
}

// trackDeadLetter starts counting for the dead letter just written for m,
// under each key it is ordered under (Key and After).
func (q *Queue) trackDeadLetter(m *meta) {
	if n, ok := q.dead.name(m.id); ok && n.seq == m.seq {
		q.trackDead(m.key, m.seq, n.file)
		for _, k := range m.after() {
			q.trackDead(k, m.seq, n.file)
		}
	}
}

// forgetDead stops counting for the dead letter n (retried or purged).
func (q *Queue) forgetDead(n deadName) {
	later := laterFileOf(n.file)
	q.mu.Lock()
	defer q.mu.Unlock()
	// Under every key: one with After keys is tracked under each.
	for key, refs := range q.deadKeys {
		for i, r := range refs {
			if r.later == later {
				refs = append(refs[:i], refs[i+1:]...)
				if len(refs) == 0 {
					delete(q.deadKeys, key)
				} else {
					q.deadKeys[key] = refs
				}
				break
			}
		}
	}
	q.deadKeyN.Store(int64(len(q.deadKeys)))
}

// noteDelivered counts a delivered item against the dead letters of its
// keys (Key and After: a merge comes after the retired patient's dead
// letters too) that it came after. Without dead letters of tracked keys
// it costs one atomic load.
func (q *Queue) noteDelivered(m *meta) {
	if q.deadKeyN.Load() == 0 && q.keyLogN.Load() == 0 || !m.ordered() {
		return
	}
	q.mu.Lock()
	var line []byte
	logs := slices.Clone(q.keyLogs)
	if len(logs) > 0 {
		q.eachKey(m, func(ks *keyState) {
			line = fmt.Appendf(line, "%d %s\n", m.origSeq(), ks.key)
		})
	}
	var files []string
	q.eachKey(m, func(ks *keyState) {
		for _, r := range q.deadKeys[ks.key] {
			f := r.path
			if f == "" {
				f = filepath.Join(q.dead.dir, r.later)
			}
			if r.seq < m.origSeq() && !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
	})
	q.mu.Unlock()
	for _, f := range files {
		countLater(f)
	}
	if len(logs) > 0 {
		q.logMu.Lock()
		for _, f := range logs {
			q.appendLog(f, line)
		}
		q.logMu.Unlock()
		// Synced with the item's ACK record (syncLogs), not each on its
		// own: a delivery is one sync still.
		q.keyLogDirty.Store(true)
	}
}

// LogDeliveries appends to the file at path, which the caller has made,
// a line "<seq> <key>" for each key (Key, and the After keys it does not
// only wait behind) of every ordered item delivered from now on, seq
// being the one it was stored at, and returns the seq the next item
// stored gets: a delivery of an item stored at it or later is logged.
// The quarantine keeps such a log: the patient of an input it holds is
// known only once the input is converted again, at its replay, and a
// replay after newer data of that patient was delivered writes older
// data on top of newer at the exchange. Keys are patient keys as items
// carry them (pseudonyms), no PHI. A line is synced before the ACK
// record of its delivery is (syncLogs). A file that cannot be written to
// is removed, so that what it would have told is not known rather than
// wrong; so is one removed by its owner, which stops the logging
// (UnlogDeliveries frees the memory too).
func (q *Queue) LogDeliveries(path string) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !slices.Contains(q.keyLogs, path) {
		q.keyLogs = append(q.keyLogs, path)
	}
	q.keyLogN.Store(int64(len(q.keyLogs)))
	return q.nextSeq
}

// UnlogDeliveries stops LogDeliveries' logging into path.
func (q *Queue) UnlogDeliveries(path string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.keyLogs = slices.DeleteFunc(q.keyLogs, func(p string) bool { return p == path })
	q.keyLogN.Store(int64(len(q.keyLogs)))
}

// NextSeq is the seq the next item stored gets: those stored before
// have a smaller one (WaitingFrom).
func (q *Queue) NextSeq() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.nextSeq
}

// maxLogBytes is the size past which a delivery log is compacted
// (compactLog), or past twice its size after the last compaction.
var maxLogBytes int64 = 4 << 20 // a var for tests

// appendLog appends line to the log at path; syncLogs syncs it. The
// caller holds logMu.
func (q *Queue) appendLog(path string, line []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return // removed meanwhile (the quarantine emptied), or never created
	}
	_, err = f.Write(line)
	var size int64
	if fi, serr := f.Stat(); err == nil && serr == nil {
		size = fi.Size()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && size > max(maxLogBytes, 2*q.logSizes[path]) {
		var n int64
		if n, err = compactLog(path); err == nil {
			if q.logSizes == nil {
				q.logSizes = map[string]int64{}
			}
			q.logSizes[path] = n
		}
	}
	if err != nil {
		os.Remove(path)
	}
}

// compactLog rewrites the delivery log at path with each key's last line
// alone, and the lines that are not "<seq> <key>" (its owner's) as they
// are, and returns its new size: a gateway whose quarantine is never
// empty (a sender's unsupported messages kept there) logs every delivery
// for good, and the log then holds a line per patient. What a delivery
// before another of its key told is gone: their number since a point
// becomes a least number (at least one when there were any), which is all
// a check for newer data needs.
func compactLog(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var other []string
	last := map[string]uint64{}
	for line := range strings.Lines(string(b)) {
		a, key, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		seq, perr := strconv.ParseUint(a, 10, 64)
		if !ok || perr != nil || !strings.HasSuffix(line, "\n") {
			if strings.HasSuffix(line, "\n") {
				other = append(other, line)
			}
			continue
		}
		last[key] = max(last[key], seq)
	}
	var out []byte
	for _, l := range other {
		out = append(out, l...)
	}
	for _, key := range slices.Sorted(maps.Keys(last)) {
		out = fmt.Appendf(out, "%d %s\n", last[key], key)
	}
	if err := durable.WriteFile(path, out, 0o600); err != nil {
		return 0, err
	}
	return int64(len(out)), nil
}

// syncLogs syncs the delivery logs written to since the last call, before
// a commit that holds ACK records syncs them: a delivery whose ACK is on
// disk is in the logs, and a crash never leaves a replay blind to it. A
// log that cannot be synced is removed (what it tells is then not known).
func (q *Queue) syncLogs() {
	if !q.keyLogDirty.Swap(false) {
		return
	}
	q.mu.Lock()
	logs := slices.Clone(q.keyLogs)
	q.mu.Unlock()
	// Not while appendLog compacts a log: on Windows the rename of its
	// new copy fails while the file is open.
	q.logMu.Lock()
	defer q.logMu.Unlock()
	for _, path := range logs {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			continue
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}
}

// Track counts in the file at path, which the caller has made (empty),
// one byte for each item of keys (patient keys, as Item.Key and After
// name them) stored at seq from or later that is delivered from now on,
// as for a dead letter; from 0 is the items stored from now on. It
// returns that seq, for the caller to keep and give again after a
// restart (when it counts on in the same file), and for WaitingFrom. A
// bundle that `exchange.hold` kept back is tracked so: released after
// newer ones of its patient were delivered, it writes older data on top
// of newer at the exchange. The count errs high: an item stored at once
// with the call counts. A file removed stops the counting (Untrack frees
// the memory too).
func (q *Queue) Track(path string, from uint64, keys []string) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if from == 0 {
		from = q.nextSeq
	}
	for _, key := range keys {
		if _, behind := queue.BehindKey(key); key == "" || behind {
			continue
		}
		if q.deadKeys == nil {
			q.deadKeys = map[string][]deadRef{}
		}
		// noteDelivered counts items after ref.seq.
		q.deadKeys[key] = append(q.deadKeys[key], deadRef{seq: from - 1, path: path})
	}
	q.deadKeyN.Store(int64(len(q.deadKeys)))
	return from
}

// Untrack stops Track's counting into path.
func (q *Queue) Untrack(path string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, refs := range q.deadKeys {
		refs = slices.DeleteFunc(refs, func(r deadRef) bool { return r.path == path })
		if len(refs) == 0 {
			delete(q.deadKeys, key)
		} else {
			q.deadKeys[key] = refs
		}
	}
	q.deadKeyN.Store(int64(len(q.deadKeys)))
}

// WaitingFrom counts the unsettled items of keys (Key or After) stored
// at seq from or later: an item put now is delivered after them.
func (q *Queue) WaitingFrom(keys []string, from uint64) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	var seen map[uint64]bool // an item with After keys is in several FIFOs
	for _, key := range keys {
		ks := q.keys[key]
		if key == "" || ks == nil {
			continue
		}
		for _, m := range ks.items {
			if m.origSeq() >= from {
				if seen == nil {
					seen = map[uint64]bool{}
				}
				seen[m.seq] = true
			}
		}
	}
	return len(seen)
}

// loadDeadKeys reads the keys of the stored dead letters, at Open, to go
// on counting for those that have a count file.
func (q *Queue) loadDeadKeys() {
	if q.dead.count() > maxTrackedDead {
		q.log.Warn("too many dead letters to track later deliveries of their patients; retrying one needs --force", "dead_letters", q.dead.count())
		return
	}
	dls, err := q.dead.list()
	if err != nil {
		q.log.Warn("dead letters not read; later deliveries of their patients are not counted", "reason", err.Error())
	}
	for _, dl := range dls {
		if !ordered(dl.Key, dl.After) || dl.Sealed {
			continue
		}
		n, ok := q.dead.name(dl.ID)
		if !ok || n.seq != dl.Seq {
			continue
		}
		if _, err := os.Stat(filepath.Join(q.dead.dir, laterFileOf(n.file))); err == nil {
			q.trackDead(dl.Key, dl.Seq, n.file)
			for _, k := range normAfter(dl.Key, dl.After) {
				q.trackDead(k, dl.Seq, n.file)
			}
		}
	}
}

// DeliveredAfter reports how many items of the dead letter id's key were
// delivered after it was dead-lettered; known is false when that was not
// tracked (a dead letter from an older version, or beyond maxTrackedDead
// at a start). A dead letter without a key has nothing after it.
//
// None counted is not known either when the dead letter's item was stored
// with another data-at-rest key than the queue's (DeadLetter.KeyedWith):
// its Key is its patient's pseudonym under that key, and the patient's
// items stored since the rotation carry another, so their deliveries were
// not counted against it.
func (q *Queue) DeliveredAfter(id string) (n int, known bool, err error) {
	return deliveredAfter(q.dead, id, q.opts.Key)
}

// InspectDeliveredAfter is DeliveredAfter for the queue in dir (dead
// letters in deadLetterDir, "" for the default) without opening it, so
// that `ferry queue show|retry` can tell beside a running gateway; key is
// the queue's data-at-rest key (nil: none).
func InspectDeliveredAfter(dir, deadLetterDir, id string, key *seal.Key) (n int, known bool, err error) {
	dead, err := openDeadStore(deadDir(dir, deadLetterDir), false, key)
	if err != nil {
		return 0, false, err
	}
	return deliveredAfter(dead, id, key)
}

// noKeyID stands, in DeadLetter.KeyedWith, for an item stored in clear.
const noKeyID = "none"

func keyIDOf(k *seal.Key) string {
	if k == nil {
		return noKeyID
	}
	return k.ID()
}

// keyedWith names the data-at-rest key m's item was stored with
// (DeadLetter.KeyedWith), "" when its record cannot be read. m is leased,
// so its record stays where it is.
func (q *Queue) keyedWith(m *meta) string {
	q.mu.Lock()
	r := itemRef{f: m.seg.f, off: m.off, size: m.size, file: m.file()}
	q.mu.Unlock()
	id, sealed, err := r.keyID(q.bodiesDir())
	switch {
	case err != nil:
		return ""
	case !sealed:
		return noKeyID
	}
	return id
}

// rekeyed reports whether the dead letter stored as file had its item
// stored with another data-at-rest key than key, or that cannot be told.
// A dead letter written before KeyedWith was kept is judged by the key
// that sealed it, the queue's at the time.
func rekeyed(dead *deadStore, file string, key *seal.Key) bool {
	dl, err := dead.read(file)
	if err != nil {
		return true
	}
	with := dl.KeyedWith
	if with == "" {
		with = noKeyID
		if id, sealed := fileKeyID(filepath.Join(dead.dir, file)); sealed {
			with = id
		}
	}
	return with != keyIDOf(key)
}

func deliveredAfter(dead *deadStore, id string, key *seal.Key) (int, bool, error) {
	nm, ok := dead.name(id)
	if !ok {
		return 0, false, fmt.Errorf("dead letter %q: %w", id, ErrNotFound)
	}
	fi, err := os.Stat(filepath.Join(dead.dir, laterFileOf(nm.file)))
	switch {
	case err == nil:
		if fi.Size() == 0 && rekeyed(dead, nm.file, key) {
			return 0, false, nil
		}
		return int(fi.Size()), true, nil
	case errors.Is(err, fs.ErrNotExist):
		// Untracked, unless it has no key (an older, unordered item,
		// or one that only waited behind keys: trackDead counts
		// nothing for those).
		if dl, rerr := dead.read(nm.file); rerr == nil && !ordered(dl.Key, dl.After) {
			return 0, true, nil
		}
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("dead letter %q: %w", id, err)
}

// RetrySafe is Retry, unless items of the dead letter's key were
// delivered after it (or that is not known), or newer ones are waiting in
// the queue (a retry goes behind them), and force is false: then it
// returns a *LaterDeliveredError and leaves the dead letter alone.
func (q *Queue) RetrySafe(ctx context.Context, id string, force bool) error {
	if !force {
		n, known, err := q.DeliveredAfter(id)
		if err != nil {
			return fmt.Errorf("retry: %w", err)
		}
		waiting, err := q.waitingAfter(id)
		if err != nil {
			return fmt.Errorf("retry: %w", err)
		}
		if n > 0 || !known || waiting > 0 {
			return &LaterDeliveredError{ID: id, Delivered: n, Known: known, Waiting: waiting}
		}
	}
	return q.Retry(ctx, id)
}

// waitingAfter counts the unsettled items of the dead letter id's keys
// (Key and After) that were put after it: a retry would be delivered
// after them.
func (q *Queue) waitingAfter(id string) (int, error) {
	dl, err := q.dead.get(id)
	if err != nil {
		return 0, err
	}
	return q.WaitingFrom(append([]string{dl.Key}, dl.After...), dl.Seq+1), nil
}
