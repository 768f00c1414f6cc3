package diskq

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// ErrNotFound is returned by the operations API for an unknown item ID.
var ErrNotFound = errors.New("item not found")

// DeadLetter is an item that failed permanently, as stored in the
// dead-letter directory (one JSON file per item; Body is base64 there).
type DeadLetter struct {
	ID  string `json:"id"`
	Key string `json:"key,omitempty"`
	// After is the item's queue.Item.After, which Retry puts back.
	After    []string          `json:"after,omitempty"`
	Source   string            `json:"source,omitempty"`
	Attrs    map[string]string `json:"attrs,omitempty"`
	Attempts int               `json:"attempts"`
	Enqueued time.Time         `json:"enqueued"`
	// Died is when the item was dead-lettered.
	Died time.Time `json:"dead_at"`
	// Reason is the error text of the permanent failure (for a receiver's
	// rejection, a short extract of its OperationOutcome as the transport
	// formatted it).
	Reason string `json:"reason"`
	// Outcome is the receiver's own answer to the rejection, as it sent
	// it (a FHIR OperationOutcome as JSON, from queue.OutcomeOf), so the
	// operator sees every issue, not Reason's extract. It may quote
	// patient data: it is sealed with the rest of the dead letter and
	// never logged, and listings (DeadLetters) leave it out like Body.
	// Empty when the failure carried none, and in dead letters written
	// before this field existed.
	Outcome string `json:"outcome,omitempty"`
	// OutcomeTruncated marks an Outcome cut to queue.MaxOutcomeBytes.
	OutcomeTruncated bool `json:"outcome_truncated,omitempty"`
	// Seq is the item's position in the queue log; it lets Open tell a
	// dead letter whose settling record was lost in a crash from a later
	// retry of the same ID.
	Seq  uint64 `json:"seq"`
	Body []byte `json:"body,omitempty"`
	// BodyFile names the file beside this one (<seq>-<id>.body) that holds
	// the body of an item too large to keep in the JSON; Body is then
	// empty in the file (Queue.DeadLetter fills it in).
	BodyFile string `json:"body_file,omitempty"`
	// Size is the body's length; DeadLetters leaves Body out and reports
	// only this.
	Size int `json:"size"`
	// Corrupt marks a stub for an item whose record was damaged on disk:
	// only its metadata is known and it cannot be retried.
	Corrupt bool `json:"corrupt,omitempty"`
	// KeyedWith is the id of the data-at-rest key the item was stored
	// with (its record or body file sealed with it; "none": in clear),
	// empty in dead letters written before it was kept. With data at
	// rest sealed the pipeline makes an item's Key its patient's
	// pseudonym under that key, so after a key rotation the patient's
	// newer items have another Key, and their deliveries are not counted
	// against this dead letter (DeliveredAfter).
	KeyedWith string `json:"keyed_with,omitempty"`
	// Sealed marks, in a listing, a dead letter that is encrypted with a
	// key that is not configured, or whose sealed file is damaged: only
	// its name (ID, Seq) is known, and Reason says which key is missing
	// or that the file is damaged.
	Sealed bool `json:"-"`

	// bodySrc, on write, is the queue's body file to keep as BodyFile.
	bodySrc string
}

// deadStore is the dead-letter directory. Files are named
// <seq as 16 hex digits>-<file-safe ID>.json so that a listing sorts in
// queue order and recovery can match files to log records by name alone.
type deadStore struct {
	dir string
	key *seal.Key // seals what is written; nil: plaintext

	mu   sync.Mutex
	byID map[string]deadName // file-safe ID → newest file
}

type deadName struct {
	seq  uint64
	file string
}

func openDeadStore(dir string, create bool, key *seal.Key) (*deadStore, error) {
	if create {
		if err := durable.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create dead-letter dir: %w", err)
		}
	}
	d := &deadStore{dir: dir, key: key, byID: map[string]deadName{}}
	ents, err := os.ReadDir(dir)
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && !create) {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	names := make(map[string]bool, len(ents))
	for _, e := range ents {
		names[e.Name()] = true
	}
	for _, e := range ents {
		name := e.Name()
		if (durable.IsTemp(name) || strings.HasSuffix(name, ".tmp")) && create {
			// An interrupted write (".tmp": as older versions named it).
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if base, ok := strings.CutSuffix(name, ".body"); ok && create && !names[base+".json"] {
			// A crash between keeping the body and writing the dead
			// letter: the item is still in the log, with its own file.
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if base, ok := strings.CutSuffix(name, laterSuffix); ok && create && !names[base+".json"] {
			// The count file of a dead letter removed by a crash's
			// interrupted retry or purge.
			os.Remove(filepath.Join(dir, name))
			continue
		}
		seq, safe, ok := parseDeadName(name)
		if !ok {
			continue
		}
		if old, dup := d.byID[safe]; !dup || old.seq < seq {
			d.byID[safe] = deadName{seq: seq, file: name}
		}
	}
	return d, nil
}

// remakeDir makes the dead-letter folder again when it is gone: removed
// by hand while the gateway runs, it would otherwise keep every refused
// item in the queue, sent again to the exchange each deadLetterRetry,
// until a restart. Only the folder itself is made, never its parent
// (which may be a volume not mounted), and its entry is fsynced there.
func (d *deadStore) remakeDir() error {
	if !d.forgetIfGone() {
		return nil // there, or a problem that writing reports
	}
	if err := os.Mkdir(d.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("make the removed dead-letter folder again: %w", err)
	}
	if err := durable.SyncDir(filepath.Dir(d.dir)); err != nil {
		return fmt.Errorf("make the removed dead-letter folder again: %w", err)
	}
	return nil
}

// forgetIfGone forgets every dead letter when the folder is gone (removed
// by hand to clear them), so that they are not counted until a restart,
// and reports whether it is gone.
func (d *deadStore) forgetIfGone() bool {
	if _, err := os.Lstat(d.dir); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	d.mu.Lock()
	clear(d.byID)
	d.mu.Unlock()
	return true
}

func parseDeadName(name string) (seq uint64, safe string, ok bool) {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok || len(base) < 18 || base[16] != '-' {
		return 0, "", false
	}
	seq, err := strconv.ParseUint(base[:16], 16, 64)
	if err != nil {
		return 0, "", false
	}
	return seq, base[17:], true
}

// safeName maps an item ID to a file-name fragment: ULIDs and other plain
// IDs stay readable, anything else becomes a hash.
func safeName(id string) string {
	ok := id != "" && len(id) <= 100 && id[0] != '.'
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.'
	}
	if ok {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:20])
}

// name returns the file of the dead letter for id.
func (d *deadStore) name(id string) (deadName, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.byID[safeName(id)]
	return n, ok
}

// countLater adds one delivery to the count file at path (later.go): a
// dead letter's, or one given to Track.
// A count that cannot be written is removed, so that it reads as unknown
// rather than too low.
func countLater(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return // removed meanwhile (retried, purged), or never created
	}
	_, err = f.Write([]byte{'.'})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
}

// has reports whether the dead letter for exactly this item (ID and seq)
// exists.
func (d *deadStore) has(id string, seq uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.byID[safeName(id)]
	return ok && n.seq == seq
}

func (d *deadStore) count() int {
	d.forgetIfGone()
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.byID)
}

// write stores dl durably (durable.WriteFile). An older dead letter with
// the same ID is replaced.
//
// A body kept in a file (dl.bodySrc) is linked (or, across file systems,
// copied) to <seq>-<id>.body and that entry synced before the JSON is
// written, so a dead letter never refers to a body that a crash lost.
//
// With a key the JSON is written as a sealed stream (aad: the file name)
// and the body file is kept sealed (a plaintext one from before the key
// is copied sealed).
func (d *deadStore) write(dl *DeadLetter) error {
	if err := d.remakeDir(); err != nil {
		return fmt.Errorf("write dead letter %s: %w", dl.ID, err)
	}
	dl.Size = len(dl.Body)
	safe := safeName(dl.ID)
	name := fmt.Sprintf("%016x-%s.json", dl.Seq, safe)
	if dl.bodySrc != "" {
		bodyName := bodyFileOf(name)
		bodyPath := filepath.Join(d.dir, bodyName)
		err := keepSealed(d.key, dl.bodySrc, bodyPath, dl.ID)
		size := int64(0)
		if err == nil {
			size, err = bodyFileSize(bodyPath)
		}
		if err == nil {
			err = durable.SyncDir(d.dir)
		}
		if err != nil {
			return fmt.Errorf("write dead letter %s: keep body: %w", dl.ID, err)
		}
		dl.Body, dl.BodyFile, dl.Size = nil, bodyName, int(size)
	}
	data, err := json.MarshalIndent(dl, "", "  ")
	if err != nil {
		return fmt.Errorf("encode dead letter %s: %w", dl.ID, err)
	}
	if d.key != nil {
		var b bytes.Buffer
		b.Grow(int(seal.SealedSize(int64(len(data)))))
		sw, err := d.key.NewWriter(&b, []byte(name))
		if err == nil {
			_, err = sw.Write(data)
		}
		if err == nil {
			err = sw.Close()
		}
		if err != nil {
			return fmt.Errorf("seal dead letter %s: %w", dl.ID, err)
		}
		data = b.Bytes()
	}
	if err := durable.WriteFile(filepath.Join(d.dir, name), data, 0o600); err != nil {
		return fmt.Errorf("write dead letter %s: %w", dl.ID, err)
	}
	// The count of its key's later deliveries starts at zero (later.go);
	// the directory sync below makes it durable. Without it the count
	// reads as unknown, which only asks the operator for --force.
	if dl.Key != "" {
		os.WriteFile(filepath.Join(d.dir, laterFileOf(name)), nil, 0o600)
	}
	d.mu.Lock()
	old, had := d.byID[safe]
	d.byID[safe] = deadName{seq: dl.Seq, file: name}
	d.mu.Unlock()
	if had && old.file != name {
		os.Remove(filepath.Join(d.dir, old.file))
		os.Remove(filepath.Join(d.dir, bodyFileOf(old.file)))
		os.Remove(filepath.Join(d.dir, laterFileOf(old.file)))
	}
	return durable.SyncDir(d.dir)
}

// bodyFileSize is the plaintext size of a body file, sealed or not.
func bodyFileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	head, err := fileHead(path)
	if err != nil || !seal.IsStream(head) {
		return st.Size(), err
	}
	n, ok := seal.PlainSize(head, st.Size())
	if !ok {
		return 0, fmt.Errorf("%w: body file of %d bytes is no sealed stream", errCorrupt, st.Size())
	}
	return n, nil
}

// openBody streams the plaintext of a dead letter's body file.
func (d *deadStore) openBody(dl *DeadLetter) (io.ReadCloser, error) {
	path := d.bodyPath(dl)
	sealed, err := fileSealed(path)
	if err != nil {
		return nil, err
	}
	return openFile(d.key, path, sealed, dl.ID)
}

// bodyFileOf names the body file that belongs to a dead letter's JSON file.
func bodyFileOf(jsonName string) string {
	return strings.TrimSuffix(jsonName, ".json") + ".body"
}

// bodyPath is where the body of a dead letter with BodyFile set is.
func (d *deadStore) bodyPath(dl *DeadLetter) string {
	return filepath.Join(d.dir, filepath.Base(dl.BodyFile))
}

// get reads the dead letter for id.
func (d *deadStore) get(id string) (*DeadLetter, error) {
	d.mu.Lock()
	n, ok := d.byID[safeName(id)]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dead letter %q: %w", id, ErrNotFound)
	}
	return d.read(n.file)
}

func (d *deadStore) read(file string) (*DeadLetter, error) {
	data, err := os.ReadFile(filepath.Join(d.dir, file))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("dead letter %s: %w", file, ErrNotFound)
		}
		return nil, fmt.Errorf("read dead letter: %w", err)
	}
	if seal.IsStream(data) {
		if d.key == nil {
			return nil, fmt.Errorf("dead letter %s: %w", file, ErrNoKey)
		}
		sr, err := d.key.NewReader(bytes.NewReader(data), []byte(file))
		if err == nil {
			data, err = io.ReadAll(sr)
		}
		if err != nil {
			return nil, fmt.Errorf("dead letter %s: %w", file, err)
		}
	}
	dl := new(DeadLetter)
	if err := json.Unmarshal(data, dl); err != nil {
		return nil, fmt.Errorf("decode dead letter %s: %w", file, err)
	}
	return dl, nil
}

// list returns all dead letters, oldest first, without bodies or
// outcomes (so that a listing of many stays small).
func (d *deadStore) list() ([]DeadLetter, error) {
	d.mu.Lock()
	files := make([]string, 0, len(d.byID))
	for _, n := range d.byID {
		files = append(files, n.file)
	}
	d.mu.Unlock()
	sort.Strings(files)
	out := make([]DeadLetter, 0, len(files))
	for _, f := range files {
		dl, err := d.read(f)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if isKeyError(err) || errors.Is(err, seal.ErrCorrupt) {
			// Listed from its name alone, so that a listing without
			// the key still shows that it exists, and one damaged on
			// disk does not hide the others.
			seq, safe, _ := parseDeadName(f)
			out = append(out, DeadLetter{ID: safe, Seq: seq, Reason: err.Error(), Sealed: true})
			continue
		}
		if err != nil {
			return out, err
		}
		dl.Body, dl.Outcome = nil, ""
		out = append(out, *dl)
	}
	return out, nil
}

// remove deletes the dead letter for id durably.
func (d *deadStore) remove(id string) error { return d.removeSeq(id, 0) }

// removeSeq is remove, but only of the dead letter written for the
// record seq (0: whichever is newest): Retry removes the dead letter it
// put back, never a newer one the retried item has meanwhile become.
//
// The dead letter is forgotten only once its file is gone: a file that
// cannot be removed (on Windows, one another program holds open) is still
// a dead letter, listed, and found again at the next start.
func (d *deadStore) removeSeq(id string, seq uint64) error {
	safe := safeName(id)
	d.mu.Lock()
	n, ok := d.byID[safe]
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("dead letter %q: %w", id, ErrNotFound)
	}
	if seq != 0 && n.seq != seq {
		return nil
	}
	if err := os.Remove(filepath.Join(d.dir, n.file)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove dead letter %q: %w", id, err)
	}
	d.mu.Lock()
	if d.byID[safe] == n {
		delete(d.byID, safe)
	}
	d.mu.Unlock()
	// Its body and count files without it are removed by the next
	// Open, should they stay now.
	os.Remove(filepath.Join(d.dir, bodyFileOf(n.file)))
	os.Remove(filepath.Join(d.dir, laterFileOf(n.file)))
	return durable.SyncDir(d.dir)
}
