package merges

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ferry-health/ferry/queue/seal"
)

// payloadUndo is the version byte of an undo record: recorded unix-s
// i64, then two strings (retired system, retired value). A ferry that
// predates it fails Open on such a file ("unknown version") rather than
// tie the un-merged patient's inputs to the other record again.
const payloadUndo = 2

// ErrNotRetired is returned (wrapped) by Undo for an identifier the
// registry does not hold as retired.
var ErrNotRetired = errors.New("identifier is not retired")

// record is one decoded record of the file: a merge, or the undo of the
// merge of Retired (Survivor empty).
type record struct {
	Merge
	Undo     bool
	Recorded time.Time
}

// apply makes rec the newest state of its retired identifier, under
// r.mu (or before the registry is shared).
func (r *Registry) apply(rec record) {
	if old, ok := r.next[rec.Retired]; ok {
		r.into[old] = slices.DeleteFunc(r.into[old], func(id ID) bool { return id == rec.Retired })
		if len(r.into[old]) == 0 {
			delete(r.into, old)
		}
	}
	if rec.Undo {
		delete(r.next, rec.Retired)
		delete(r.when, rec.Retired)
		return
	}
	r.next[rec.Retired] = rec.Survivor
	r.when[rec.Retired] = rec.Recorded
	if r.into == nil {
		r.into = map[ID][]ID{}
	}
	list := r.into[rec.Survivor]
	i, _ := slices.BinarySearchFunc(list, rec.Retired, compareID)
	r.into[rec.Survivor] = slices.Insert(list, i, rec.Retired)
}

func compareID(a, b ID) int {
	return cmp.Or(cmp.Compare(a.System, b.System), cmp.Compare(a.Value, b.Value))
}

// Entry is one merge the registry holds, for people: the identifier
// retired, the one it was merged into (its direct survivor, not the end
// of a chain) and when ferry recorded it.
type Entry struct {
	Merge
	Recorded time.Time
}

// Undo takes back the merge of retired, for a merge sent in error (two
// people merged at the EHR, split again by its registrar): it appends an
// undo record, synced before it returns, after which retired is its own
// patient again and later inputs naming it are no longer tied to the
// survivor. Only that merge goes: a record merged into retired stays
// merged into it (A into B, B into C; undoing B leaves A tied to B), and
// merges into retired's survivor stay. An identifier not retired is an
// error wrapping ErrNotRetired, and nothing is written. The merge message
// can be recorded again afterwards (the EHR merges the records for real).
//
// Undo records are replayed in file order on Open; a rewrite (key
// rotation) drops the undone merge and its undo together.
func (r *Registry) Undo(retired ID) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.RLock()
	closed, ferr := r.closed, r.err
	_, known := r.next[retired]
	r.mu.RUnlock()
	switch {
	case closed:
		return ErrClosed
	case ferr != nil:
		if err := r.restart(); err != nil {
			return fmt.Errorf("merge registry: undo: %w (starting again: %w)", ferr, err)
		}
	}
	if !known {
		return fmt.Errorf("merge registry: undo: %w", ErrNotRetired)
	}
	rec := r.encodeAt(nil, payloadUndo, r.opts.Clock(), retired.System, retired.Value)
	if err := r.write(rec); err != nil {
		return fmt.Errorf("merge registry: undo: %w", err)
	}
	r.mu.Lock()
	r.apply(record{Merge: Merge{Retired: retired}, Undo: true})
	r.size += int64(len(rec))
	r.mu.Unlock()
	return nil
}

// Entries returns the merges the registry holds, sorted by when they were
// recorded (then by identifier).
func (r *Registry) Entries() []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.entries()
}

func (r *Registry) entries() []Entry {
	out := make([]Entry, 0, len(r.next))
	for ret, surv := range r.next {
		out = append(out, Entry{Merge: Merge{Retired: ret, Survivor: surv}, Recorded: r.when[ret]})
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(a.Recorded.Compare(b.Recorded),
			cmp.Compare(a.Retired.System, b.Retired.System), cmp.Compare(a.Retired.Value, b.Retired.Value))
	})
	return out
}

// Inspect returns the merges the file at path holds, as Entries would,
// without opening it for writing: a command may read the file of a
// running gateway, which alone appends to it (and cuts a torn tail). key
// opens sealed records. A missing file holds no merges.
func Inspect(path string, key *seal.Key) ([]Entry, error) {
	r := &Registry{path: path, opts: Options{Key: key}, log: slog.New(slog.DiscardHandler), next: map[ID]ID{}, when: map[ID]time.Time{}}
	if _, err := r.load(); err != nil {
		return nil, fmt.Errorf("read merge registry %s: %w", path, err)
	}
	return r.entries(), nil
}
