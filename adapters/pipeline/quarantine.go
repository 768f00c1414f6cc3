package pipeline

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ferry-health/ferry/adapters"
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
}

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
	e := QuarantineEntry{
		ID:       ulid.Make().String(),
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

// List returns the stored entries' ids, oldest first.
func (q *Quarantine) List() ([]string, error) {
	return listEntries(q.dir, "quarantine", nil)
}

// Get reads one entry.
func (q *Quarantine) Get(id string) (*QuarantineEntry, error) {
	return readEntry[QuarantineEntry](q.dir, id, q.key, "quarantine entry")
}

// Remove deletes an entry, once it has been replayed or purged by an
// operator. It does not read the entry, so one sealed with a lost key can
// still be purged.
func (q *Quarantine) Remove(id string) error {
	id = filepath.Base(id)
	if err := os.Remove(filepath.Join(q.dir, id+".json")); err != nil {
		return fmt.Errorf("remove quarantine entry %s: %w", id, err)
	}
	return durable.SyncDir(q.dir)
}

// RemoveTemps removes the temporary files an interrupted write left in
// the store (a crash between creating an entry and committing it): no
// listing shows them, so nothing else ever would, and without a key they
// hold an input in the clear. Only the process that writes entries may
// call it (the gateway, or a command holding the queue's lock), since
// another's write in progress looks the same.
func (q *Quarantine) RemoveTemps() error { return removeTemps(q.dir) }

// RemoveTemps is Quarantine.RemoveTemps for the held store.
func (h *Held) RemoveTemps() error { return removeTemps(h.dir) }

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
