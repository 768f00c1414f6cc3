// Package merges is the durable registry of retired patient identifiers:
// after an HL7 v2 merge (ADT^A40) or identifier change (ADT^A47) the
// prior record's identifier names a patient that no longer exists on its
// own, and a later message that still carries it (a late lab result, a
// feed that missed the merge) must be tied to the record it was merged
// into, not revive the retired one. The pipeline records each merge here
// before the merge message is acknowledged; the HL7 v2 converter asks it
// which patient an identifier now belongs to (Survivor).
//
// # File format
//
// One append-only file, data_dir/merges.log; integers little-endian, crc
// is CRC-32C of the length and the payload:
//
//	header:  "FERRYMG\x01" (8 bytes)
//	record:  +--------------+-----------------+------------+
//	         | length u32   | payload         | crc32c u32 |
//	         +--------------+-----------------+------------+
//	payload: version 1 (1 byte), recorded unix-s i64, then four strings
//	         (u16 length, bytes): retired system, retired value,
//	         survivor system, survivor value.
//	undo:    version 2 (1 byte), recorded unix-s i64, then two strings:
//	         retired system, retired value (Undo: the merge of that
//	         identifier was sent in error and no longer holds).
//
// With a seal key the payload is a seal blob of that plaintext (bound to
// the file name), because identifier values are chart numbers, which the
// rest of data_dir keeps sealed too.
//
// Merges are rare (a few a day) and each one must be on disk before its
// message is acknowledged, so Record writes and fsyncs its record itself:
// no group commit. The newest record for a retired identifier wins (a
// sender that merges the record again elsewhere). A torn tail, the
// record of a crash mid-append that was therefore never acknowledged, is
// cut off on Open; a damaged record with others after it fails Open,
// because skipping it would silently tie later results to a retired
// record again.
//
// One process at a time may have the file open; keep it in the data
// directory whose queue lock guards it.
package merges

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

const (
	magic       = "FERRYMG\x01"
	headerLen   = int64(len(magic))
	payloadV1   = 1
	maxPayload  = 64 << 10
	maxStrLen   = 1<<16 - 1
	sealAADName = "merges.log"
)

// MaxMergeBytes bounds the four strings of a merge (the retired and the
// surviving identifier's system and value) together, so that every
// record Record accepts, sealed or not, is one Open reads back; see Fits.
const MaxMergeBytes = 32 << 10

// Fits reports whether Record can store m: each of its four strings
// within maxStrLen/4 bytes, all four within MaxMergeBytes. A converter
// refuses a merge that does not fit as content (a chart number is a few
// dozen bytes), rather than leave the pipeline to retry a record the
// registry will never take.
func (m Merge) Fits() bool {
	const each = maxStrLen / 4
	ss := [4]string{m.Retired.System, m.Retired.Value, m.Survivor.System, m.Survivor.Value}
	total := 0
	for _, s := range ss {
		if len(s) > each {
			return false
		}
		total += len(s)
	}
	return total <= MaxMergeBytes
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrClosed is returned by Record after Close.
	ErrClosed = errors.New("merge registry is closed")
	// ErrCycle is returned (wrapped) by Record and Survivor when a merge
	// would make, or the registry holds, a chain of merges that leads
	// back to where it started: no record would survive.
	ErrCycle = errors.New("merge cycle")
)

// ID is a patient identifier: the FHIR identifier system and value the
// converter keys the Patient by.
type ID struct {
	System string
	Value  string
}

// Merge is one retired identifier and the identifier of the record it was
// merged into.
type Merge struct {
	Retired  ID
	Survivor ID
	// Reverse marks a merge that turns an earlier one round: Survivor was
	// merged (directly or through a chain) into Retired, and the sender
	// now merges Retired into Survivor, its correction of the direction
	// (an A47 changing the identifier back, an A40 the other way). Record
	// then takes back Survivor's own merge and records this one; without
	// Reverse such a merge is refused as a cycle.
	Reverse bool
}

// Options configures a Registry.
type Options struct {
	// Key, when set, seals each record's payload (encryption at rest).
	Key *seal.Key
	// Logger receives reports of a torn tail (never identifier values).
	Logger *slog.Logger
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
}

// Registry maps retired patient identifiers to their survivors. It is
// safe for concurrent use: lookups take a read lock only.
type Registry struct {
	path string
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	wmu    sync.Mutex // serialises Record's write and sync
	f      *os.File
	size   int64 // the file's length up to its last synced record
	err    error // a failed sync or cut: the file's tail is unknown
	closed bool
	next   map[ID]ID        // retired → the survivor its newest record names
	into   map[ID][]ID      // survivor → the retired identifiers next names it for (Merged)
	when   map[ID]time.Time // retired → when its newest merge was recorded
	reseal bool             // a record is sealed otherwise than Options.Key seals now
}

// Open opens or creates the registry stored at path.
func Open(path string, opts Options) (*Registry, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	r := &Registry{path: path, opts: opts, log: opts.Logger, next: map[ID]ID{}, when: map[ID]time.Time{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if err := durable.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open merge registry: %w", err)
	}
	good, err := r.load()
	if err != nil {
		return nil, fmt.Errorf("open merge registry %s: %w", path, err)
	}
	if good < 0 || r.reseal {
		// A new file, or one whose records a rotated (or newly
		// configured) key is to seal: written whole, atomically, so the
		// previous key can go once nothing else needs it.
		data := r.rewrite()
		if err := durable.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("open merge registry %s: %w", path, err)
		}
		good = int64(len(data))
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open merge registry: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open merge registry: %w", err)
	}
	if st.Size() != good {
		// A torn tail: cut it off, durably, before anything is appended
		// after it.
		if err := f.Truncate(good); err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open merge registry %s: cut torn tail: %w", path, err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open merge registry: %w", err)
	}
	r.f, r.size = f, good
	return r, nil
}

// load reads the file into r.next and returns the length of its whole
// records (header included), or -1 when there is no file (or an empty
// one) to append to.
func (r *Registry) load() (int64, error) {
	data, err := os.ReadFile(r.path)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(data) == 0 {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	if len(data) < int(headerLen) || string(data[:headerLen]) != magic {
		return 0, errors.New("not a merge registry (bad header)")
	}
	off := int(headerLen)
	for off < len(data) {
		rest := data[off:]
		if len(rest) < 8 {
			return r.torn(off, len(rest)), nil
		}
		n := int(binary.LittleEndian.Uint32(rest))
		if n > maxPayload || 4+n+4 > len(rest) {
			if n > maxPayload && 4+n+4 <= len(rest) && wholeAfter(rest) {
				return 0, fmt.Errorf("record at offset %d is damaged (length %d)", off, n)
			}
			return r.torn(off, len(rest)), nil
		}
		rec := rest[:4+n+4]
		if crc32.Checksum(rec[:4+n], castagnoli) != binary.LittleEndian.Uint32(rec[4+n:]) {
			if len(rec) == len(rest) || !wholeAfter(rest) {
				// Nothing whole follows: the last append, torn (a file
				// system may grow the file before it writes the
				// record's blocks, which then read as zeros).
				return r.torn(off, len(rest)), nil
			}
			return 0, fmt.Errorf("record at offset %d is damaged (checksum); later merges follow it, so it is not skipped: restore the file from a backup", off)
		}
		m, err := r.decode(rec[4:4+n], off)
		if err != nil {
			return 0, err
		}
		r.apply(m)
		off += len(rec)
	}
	return int64(off), nil
}

// wholeAfter reports whether a whole record (its checksum right) starts
// anywhere after the first byte of rest, the file from a damaged record
// on: if none does, the damage is the last append's, torn by a crash. It
// is only called on damage.
func wholeAfter(rest []byte) bool {
	for p := 1; p+8 <= len(rest); p++ {
		n := int(binary.LittleEndian.Uint32(rest[p:]))
		if n > maxPayload || p+4+n+4 > len(rest) {
			continue
		}
		if crc32.Checksum(rest[p:p+4+n], castagnoli) == binary.LittleEndian.Uint32(rest[p+4+n:]) {
			return true
		}
	}
	return false
}

// torn reports the tail a crash mid-append left and returns where the
// whole records end.
func (r *Registry) torn(off, n int) int64 {
	r.log.Warn("merge registry has a torn tail; cut off (its merge was never acknowledged)", "file", filepath.Base(r.path), "bytes", n)
	return int64(off)
}

func (r *Registry) decode(p []byte, off int) (record, error) {
	if k := r.opts.Key; k != nil {
		if id, sealed := seal.KeyIDOf(p); !sealed || id != k.ID() {
			r.reseal = true
		}
	}
	if seal.IsBlob(p) {
		if r.opts.Key == nil {
			return record{}, fmt.Errorf("record at offset %d is sealed, and no encryption key is configured", off)
		}
		plain, err := r.opts.Key.Open(nil, p, []byte(sealAADName))
		if err != nil {
			return record{}, fmt.Errorf("record at offset %d: %w", off, err)
		}
		p = plain
	}
	if len(p) < 9 || p[0] != payloadV1 && p[0] != payloadUndo {
		return record{}, fmt.Errorf("record at offset %d has an unknown version", off)
	}
	rec := record{Undo: p[0] == payloadUndo, Recorded: time.Unix(int64(binary.LittleEndian.Uint64(p[1:])), 0)}
	p = p[9:]
	// A merge names the retired and the surviving identifier, an undo
	// (undo.go) the retired one only.
	s := make([]string, 4)
	if rec.Undo {
		s = s[:2]
	}
	for i := range s {
		if len(p) < 2 {
			return record{}, fmt.Errorf("record at offset %d is cut short", off)
		}
		n := int(binary.LittleEndian.Uint16(p))
		if len(p) < 2+n {
			return record{}, fmt.Errorf("record at offset %d is cut short", off)
		}
		s[i], p = string(p[2:2+n]), p[2+n:]
	}
	rec.Retired = ID{s[0], s[1]}
	if !rec.Undo {
		rec.Survivor = ID{s[2], s[3]}
	}
	if rec.Retired.Value == "" || !rec.Undo && rec.Survivor.Value == "" {
		return record{}, fmt.Errorf("record at offset %d names no identifier", off)
	}
	return rec, nil
}

// rewrite returns the file holding every retired identifier's newest
// merge, sealed as Options.Key says, in a fixed order.
func (r *Registry) rewrite() []byte {
	all := make([]Merge, 0, len(r.next))
	for ret, surv := range r.next {
		all = append(all, Merge{Retired: ret, Survivor: surv})
	}
	slices.SortFunc(all, func(a, b Merge) int {
		return cmp.Or(cmp.Compare(a.Retired.System, b.Retired.System), cmp.Compare(a.Retired.Value, b.Retired.Value))
	})
	b := []byte(magic)
	for _, m := range all {
		t, ok := r.when[m.Retired]
		if !ok {
			t = r.opts.Clock()
		}
		b = r.encodeAt(b, payloadV1, t, m.Retired.System, m.Retired.Value, m.Survivor.System, m.Survivor.Value)
	}
	return b
}

// encodeAt appends a record of the kind version, recorded at t, holding
// strs, to b.
func (r *Registry) encodeAt(b []byte, version byte, t time.Time, strs ...string) []byte {
	plain := []byte{version}
	plain = binary.LittleEndian.AppendUint64(plain, uint64(t.Unix()))
	for _, s := range strs {
		plain = binary.LittleEndian.AppendUint16(plain, uint16(len(s)))
		plain = append(plain, s...)
	}
	if r.opts.Key != nil {
		plain = r.opts.Key.Seal(nil, plain, []byte(sealAADName))
	}
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(plain)))
	b = append(b, plain...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// Survivor returns the identifier of the record that id was merged
// into, following chains (A into B, then B into C: A's survivor is C);
// ok is false when id is not retired. A chain that comes back on itself
// (which Record refuses to make, so only a hand-edited file holds one) is
// an error wrapping ErrCycle.
func (r *Registry) Survivor(id ID) (survivor ID, ok bool, err error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.resolve(id)
}

// resolve is Survivor under r.mu.
func (r *Registry) resolve(id ID) (ID, bool, error) {
	cur, ok := r.next[id]
	if !ok {
		return id, false, nil
	}
	// A chain visits each retired identifier at most once.
	for range len(r.next) {
		nxt, more := r.next[cur]
		if !more {
			return cur, true, nil
		}
		if nxt == id {
			break
		}
		cur = nxt
	}
	return ID{}, false, fmt.Errorf("merge registry: %w: a chain of merges leads back to a retired identifier", ErrCycle)
}

// Merged returns the identifiers merged directly into survivor (not
// through a chain: A into B, B into C gives C only B), sorted. A writer of
// the survivor's record links it to theirs (Patient.link replaces), which
// a rewrite of the record from a later message must keep.
func (r *Registry) Merged(survivor ID) []ID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.into[survivor])
}

// passes reports whether the chain of merges from id passes through
// target (id itself included), under r.mu.
func (r *Registry) passes(id, target ID) (bool, error) {
	cur := id
	for range len(r.next) + 1 {
		if cur == target {
			return true, nil
		}
		nxt, ok := r.next[cur]
		if !ok {
			return false, nil
		}
		cur = nxt
	}
	return false, fmt.Errorf("%w: a chain of merges leads back to a retired identifier", ErrCycle)
}

// Record retires m.Retired into m.Survivor and returns once the record
// is on disk. Recording a merge the registry already holds writes
// nothing. A merge that would make a cycle (the survivor is, or was
// merged into, the retired identifier) is refused with an error wrapping
// ErrCycle, and nothing is written, unless m.Reverse says the sender
// turns that merge round: then an undo of the survivor's own merge and m
// are written together, in one synced write. The survivor is then its
// own record again, every identifier whose chain passed through it ends
// at it (the retired one's chain now leads there), and no cycle is left,
// since the survivor is retired into nothing. A crash that tears the
// pair leaves at most the undo, and the message that carried m was not
// acknowledged: sent again, it records m as a plain merge.
func (r *Registry) Record(m Merge) error {
	if m.Retired.Value == "" || m.Survivor.Value == "" {
		return errors.New("merge registry: record: empty identifier")
	}
	if !m.Fits() {
		return errors.New("merge registry: record: identifier too long")
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.RLock()
	closed, ferr := r.closed, r.err
	cur, known := r.next[m.Retired]
	loops, cerr := r.passes(m.Survivor, m.Retired)
	r.mu.RUnlock()
	switch {
	case closed:
		return ErrClosed
	case ferr != nil:
		if err := r.restart(); err != nil {
			return fmt.Errorf("merge registry: record: %w (starting again: %w)", ferr, err)
		}
	}
	switch {
	case known && cur == m.Survivor:
		return nil
	case cerr != nil:
		return fmt.Errorf("merge registry: record: %w", cerr)
	case loops && (!m.Reverse || m.Survivor == m.Retired):
		return fmt.Errorf("merge registry: record: %w: the surviving record was itself merged into the one retired", ErrCycle)
	}
	now := r.opts.Clock()
	var recs [][]byte
	if loops {
		// m.Survivor is retired (its chain reaches m.Retired in at least
		// one step): its merge is taken back first.
		recs = append(recs, r.encodeAt(nil, payloadUndo, now, m.Survivor.System, m.Survivor.Value))
	}
	recs = append(recs, r.encodeAt(nil, payloadV1, now, m.Retired.System, m.Retired.Value, m.Survivor.System, m.Survivor.Value))
	if err := r.write(recs...); err != nil {
		return fmt.Errorf("merge registry: record: %w", err)
	}
	r.mu.Lock()
	if loops {
		r.apply(record{Merge: Merge{Retired: m.Survivor}, Undo: true})
	}
	r.apply(record{Merge: Merge{Retired: m.Retired, Survivor: m.Survivor}, Recorded: now})
	for _, rec := range recs {
		r.size += int64(len(rec))
	}
	r.mu.Unlock()
	return nil
}

// write appends recs (whole records, each as encodeAt made it) at the
// end of the file's whole records, in one write, and syncs them, under
// r.wmu; the caller then applies them and moves r.size on. A failed sync
// stops the registry (r.err): what the file holds is unknown, until the
// next Record or Undo writes it anew (restart).
func (r *Registry) write(recs ...[]byte) error {
	var rec []byte
	for _, one := range recs {
		if len(one)-8 > maxPayload {
			// Open would refuse it (damaged length) at the next start.
			return errors.New("identifiers too long")
		}
		rec = append(rec, one...)
	}
	_, werr := r.f.WriteAt(rec, r.size)
	var serr error
	if werr == nil {
		serr = r.f.Sync()
	} else {
		// The disk refused the write (full): cut off what part of it
		// may have landed, so the file ends with whole records, and go
		// on once there is room.
		if cerr := r.f.Truncate(r.size); cerr != nil {
			serr = fmt.Errorf("%w, and cutting it off again: %w", werr, cerr)
		} else if cerr := r.f.Sync(); cerr != nil {
			serr = fmt.Errorf("%w, and syncing the cut: %w", werr, cerr)
		}
	}
	if serr != nil {
		r.mu.Lock()
		r.err = fmt.Errorf("write %s: %w", filepath.Base(r.path), serr)
		r.mu.Unlock()
		r.log.Error("merge registry write failed; registry stopped until the next merge writes it anew from memory", "reason", serr.Error())
		return serr
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(r.path), werr)
	}
	return nil
}

// restart starts a stopped registry (r.err) again. After the write that
// stopped it (a failed fsync) the file's tail is unknown, and syncing it
// again may pass though the kernel dropped the pages it could not write,
// so the file is replaced by one written anew from memory, which holds
// every merge that was acknowledged and none of the failed write's. Until
// that works (the disk may still fail) the registry stays stopped, and
// the next Record or Undo tries again. The caller holds r.wmu.
func (r *Registry) restart() error {
	r.mu.RLock()
	data, n := r.rewrite(), len(r.next)
	r.mu.RUnlock()
	if r.f != nil {
		r.f.Close() // Windows renames nothing over an open file
		r.f = nil
	}
	if err := durable.WriteFile(r.path, data, 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.f, r.size, r.err = f, int64(len(data)), nil
	r.mu.Unlock()
	r.log.Info("merge registry started again in a new file", "merges", n)
	return nil
}

// Len is the number of retired identifiers.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.next)
}

// Close closes the file; Survivor still answers from memory afterwards.
func (r *Registry) Close() error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.f == nil {
		return nil // stopped, and not started again
	}
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("close merge registry: %w", err)
	}
	return nil
}
