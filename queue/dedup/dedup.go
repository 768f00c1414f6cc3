// Package dedup is a durable "seen" set for input de-duplication: a sender
// that did not get its MLLP ACK sends the same message again, and a folder
// rescan may meet a file twice. The adapter derives a key from the input
// (KeyOf(MSH-3, MSH-4, MSH-10, sha256 of the content)), skips inputs whose
// key is Seen, and Adds the key after the queue Put of the converted
// result returned. Re-sending is harmless anyway (idempotent bundles);
// dedup only saves the exchange the extra traffic.
//
// # File format
//
// One append-only file; integers little-endian, crc is CRC-32C of the
// record's first 40 bytes:
//
//	header:  "FERRYDD\x01" (8 bytes)
//	record:  +-----------+-------------------+------------+
//	         | key 32 B  | added unix-s i64  | crc32c u32 |   44 bytes
//	         +-----------+-------------------+------------+
//
// Records have a fixed size, so a damaged record is skipped without losing
// the ones after it, and a torn tail (a crash mid-append) is cut off on
// Open. Open also applies the retention (MaxKeys, MaxAge) and rewrites
// the file when that drops enough (tmp, fsync, rename, directory fsync);
// a copy a crash left under its temporary name is removed.
//
// Add returns after fsync. Concurrent Adds share one write and sync: the
// first caller to find no flush running becomes the leader and writes
// everything queued so far; the others wait for it (leader/follower group
// commit). Remember does not wait at all; a background flush takes its
// keys, and Close writes what is left.
//
// A failed fsync leaves the file's end unknown and stops the set: it then
// keeps its keys in memory, so resends are still recognised, and starts
// again in a new file written from memory, in the background, with the
// next Add or at Close.
//
// One process at a time may have the file open; keep it in the data
// directory whose queue lock guards it.
package dedup

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-health/ferry/queue/durable"
)

const (
	magic     = "FERRYDD\x01"
	headerLen = len(magic)
	recLen    = 44
	// DefaultMaxKeys is the retention when Options.MaxKeys is 0.
	DefaultMaxKeys = 1_000_000
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("dedup set is closed")

// Options configures a Set.
type Options struct {
	// MaxKeys keeps only the newest MaxKeys keys; default DefaultMaxKeys.
	MaxKeys int
	// MaxAge forgets keys added longer ago than this; 0 keeps them until
	// MaxKeys pushes them out.
	MaxAge time.Duration
	// Logger receives reports of damaged records (never key material).
	Logger *slog.Logger
	// Clock returns the current time; default time.Now. Tests set it.
	Clock func() time.Time
}

// Set is a durable set of 32-byte keys with a retention. It is safe for
// concurrent use.
type Set struct {
	path string
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	cond      *sync.Cond
	f         *os.File
	closed    bool
	err       error             // a failed sync (or a failed write that could not be cut off): the file's tail is unknown
	size      int64             // the file's length up to its last synced record
	failGen   uint64            // the newest generation whose write the disk refused (see flushLocked)
	failErr   error             // ... and why
	failing   bool              // writes fail: logged once, until one works again
	keys      map[memKey]uint64 // key → generation of its record
	order     []ordered         // insertion order, oldest first, from head
	head      int
	fileRecs  int // records in the file
	pending   []byte
	spare     []byte
	gen       uint64 // generation of the records in pending
	syncedGen uint64 // every generation up to this one is on disk
	flushing  bool
	armed     bool // a delayed background flush is scheduled
	syncs     int  // write+sync rounds, for tests
	// compactHold is the record count before which a compaction that
	// failed (a full disk) is not tried again.
	compactHold int
	// restartWait is the delay before the next background restart of a
	// stopped set, 0 while none is scheduled.
	restartWait time.Duration
}

// memKey is how memory tells keys apart: their first 16 bytes. Keys are
// SHA-256 outputs, so 128 bits keep a collision among a million keys at
// odds of about 1e-27, and every remembered key costs ~66 bytes of memory
// instead of ~121 (BenchmarkHeapPerKey): a day of backlog is hundreds of
// thousands of keys.
// The file keeps whole keys; a compacted file stores the 16 bytes memory
// has, zero-padded, which read back as the same memKey.
type memKey [16]byte

func memKeyOf(k [32]byte) memKey { return memKey(k[:16]) }

type ordered struct {
	key   memKey
	added int64 // unix seconds
}

// KeyOf hashes parts into a key. Each part is length-prefixed, so
// ("ab","c") and ("a","bc") give different keys.
func KeyOf(parts ...[]byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Open opens or creates the set stored at path, dropping keys outside the
// retention and any damaged records.
func Open(path string, opts Options) (*Set, error) {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Set{path: path, opts: opts, log: opts.Logger, keys: map[memKey]uint64{}, gen: 1}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.cond = sync.NewCond(&s.mu)
	if err := durable.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open dedup set: %w", err)
	}
	removeLeftovers(path)
	dirty, whole, err := s.load()
	if err != nil {
		return nil, fmt.Errorf("open dedup set %s: %w", path, err)
	}
	s.evict()
	if dirty || s.fileRecs > len(s.keys)+len(s.keys)/4 {
		if err := s.rewrite(); err != nil {
			// The rewrite needs room for a second copy of the file,
			// which a full disk does not have. A file with a header
			// serves as it is once a torn tail is cut off in place
			// (damaged records are skipped again, keys past the
			// retention dropped again): the rewrite waits for a later
			// start, and the gateway starts meanwhile.
			if whole == 0 {
				return nil, fmt.Errorf("open dedup set %s: %w", path, err)
			}
			if cerr := cutTo(path, whole); cerr != nil {
				return nil, fmt.Errorf("open dedup set %s: %w, and cutting its torn tail off: %w", path, err, cerr)
			}
			s.log.Warn("dedup file not compacted; going on with it as it is", "file", filepath.Base(path), "reason", err.Error())
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open dedup set: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open dedup set: %w", err)
	}
	s.f, s.size = f, st.Size()
	return s, nil
}

// load reads the file; dirty reports a torn tail, damage or a missing
// header, any of which makes Open rewrite the file. whole is the length
// of the file's header and whole records (the file without a torn tail),
// 0 when it has no valid header.
func (s *Set) load() (dirty bool, whole int64, err error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return true, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return false, 0, err
	}
	if len(data) < headerLen || string(data[:headerLen]) != magic {
		if len(data) > 0 {
			s.log.Error("dedup file has no valid header; starting empty", "file", filepath.Base(s.path), "bytes", len(data))
		}
		return true, 0, nil
	}
	data = data[headerLen:]
	moved := 0
	if tail := len(data) % recLen; tail != 0 {
		s.log.Warn("dedup file has a torn tail", "file", filepath.Base(s.path), "bytes", tail)
		data = data[:len(data)-tail]
		dirty = true
	}
	for off := 0; off < len(data); off += recLen {
		r := data[off : off+recLen]
		if crc32.Checksum(r[:40], castagnoli) != binary.LittleEndian.Uint32(r[40:]) {
			s.log.Error("dedup record corrupt, skipped", "file", filepath.Base(s.path), "offset", headerLen+off)
			dirty = true
			continue
		}
		k := memKey(r[:16])
		added := int64(binary.LittleEndian.Uint64(r[32:]))
		s.fileRecs++
		// While loading, a key's value is its place in s.order plus one.
		if i, dup := s.keys[k]; dup {
			// Added again after the retention had pushed it out (a
			// resend after MaxKeys others): its last record is its
			// place, as it was in memory, or the newest key would be
			// the first one the retention drops.
			s.order[i-1].added = superseded
			moved++
		}
		s.order = append(s.order, ordered{key: k, added: added})
		s.keys[k] = uint64(len(s.order))
	}
	if moved > 0 {
		s.order = slices.DeleteFunc(s.order, func(o ordered) bool { return o.added == superseded })
	}
	for _, o := range s.order {
		s.keys[o.key] = 0 // on disk: generation 0
	}
	return dirty, int64(headerLen + len(data)), nil
}

// superseded marks, while the file is loaded, a key's record that a later
// one of the same key replaces.
const superseded = math.MinInt64

// removeLeftovers deletes the copies of the file at path that a rewrite
// (a compaction, Open's, a restart's) was writing under a temporary name
// when the process died: each is as large as the file, and nothing else
// would ever remove it. Only one process has the file open (see the
// package comment), so none is being written. Failures are ignored: a
// leftover costs only disk space, and the next Open tries again.
func removeLeftovers(path string) {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && durable.IsTemp(n) && strings.HasPrefix(n, "."+base+".tmp-") {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// cutTo truncates the file at path to size, when it is longer, and syncs
// it: a torn tail cut off in place, which needs no room on the disk.
func cutTo(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Size() > size {
		if err = f.Truncate(size); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// evict drops keys beyond MaxKeys and older than MaxAge, oldest first.
func (s *Set) evict() {
	var cutoff int64
	if s.opts.MaxAge > 0 {
		cutoff = s.opts.Clock().Add(-s.opts.MaxAge).Unix()
	}
	for s.head < len(s.order) {
		o := s.order[s.head]
		if len(s.order)-s.head <= s.opts.MaxKeys && o.added >= cutoff {
			break
		}
		delete(s.keys, o.key)
		s.order[s.head] = ordered{}
		s.head++
	}
	if s.head > len(s.order)/2 && s.head > 1024 {
		s.order = append(s.order[:0:0], s.order[s.head:]...)
		s.head = 0
	}
}

// rewrite replaces the file with the retained keys, atomically and
// durably.
func (s *Set) rewrite() error {
	buf := make([]byte, 0, headerLen+(len(s.order)-s.head)*recLen)
	buf = append(buf, magic...)
	for _, o := range s.order[s.head:] {
		var k [32]byte
		copy(k[:], o.key[:])
		buf = appendRecord(buf, k, o.added)
	}
	if err := durable.WriteFile(s.path, buf, 0o600); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	s.fileRecs = len(s.order) - s.head
	return nil
}

func appendRecord(b []byte, key [32]byte, added int64) []byte {
	start := len(b)
	b = append(b, key[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(added))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:start+40], castagnoli))
}

// Seen reports whether key was added and is still within the retention.
func (s *Set) Seen(key [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.keys[memKeyOf(key)]
	return ok
}

// Len is the number of keys retained.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// Add records key and returns once it is on disk. Adding a key that is
// already present only waits until that earlier Add is on disk.
func (s *Set) Add(key [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.err != nil && !s.restartLocked() {
		return fmt.Errorf("dedup add: %w", s.err)
	}
	mk := memKeyOf(key)
	gen, ok := s.keys[mk]
	if !ok {
		now := s.opts.Clock().Unix()
		gen = s.gen
		s.keys[mk] = gen
		s.order = append(s.order, ordered{key: mk, added: now})
		s.pending = appendRecord(s.pending, key, now)
		s.evict()
	}
	for s.syncedGen < gen {
		if s.err != nil {
			return fmt.Errorf("dedup add: %w", s.err)
		}
		if s.failGen >= gen {
			// The disk refused the write: the key is written with the
			// next one that works.
			return fmt.Errorf("dedup add: %w", s.failErr)
		}
		if s.closed {
			return ErrClosed
		}
		if s.flushing {
			s.cond.Wait()
			continue
		}
		s.flushLocked()
	}
	return nil
}

// Remember adds key like Add but returns without waiting for the disk; a
// background flush writes it with the next group. A crash may forget the
// last keys remembered, which costs at most a duplicate delivery, so an
// adapter can use Remember and spend its fsync on the queue alone.
func (s *Set) Remember(key [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	mk := memKeyOf(key)
	if _, ok := s.keys[mk]; ok {
		return nil
	}
	now := s.opts.Clock().Unix()
	s.keys[mk] = s.gen
	s.order = append(s.order, ordered{key: mk, added: now})
	s.pending = appendRecord(s.pending, key, now)
	s.evict()
	if s.err != nil {
		// Stopped: the key is kept in memory, so that a resend is still
		// recognised, and written with the others when the set starts
		// again in a new file (restartLocked).
		s.armRestart()
		return nil
	}
	if !s.armed {
		// Remembered keys are written together a little later: one write
		// and one fsync for every key of that interval, instead of a second
		// sync beside every queue commit on the ACK path.
		s.armed = true
		time.AfterFunc(RememberDelay, s.background)
	}
	return nil
}

// RememberDelay is how long Remember lets keys gather before they are
// written and synced; a crash loses at most the keys of this interval.
const RememberDelay = 250 * time.Millisecond

// restartDelay is how long a stopped set waits before it first tries to
// start again in the background (restartLocked); the wait doubles after
// each failure, up to maxRestartDelay. An Add tries at once.
var restartDelay = 30 * time.Second

const maxRestartDelay = 10 * time.Minute

// background flushes what Remember left pending, unless a flush is
// already under way (its leader takes the pending keys too).
func (s *Set) background() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	failed := s.failGen
	for len(s.pending) > 0 && s.err == nil && !s.closed && !s.flushing && s.failGen == failed {
		s.flushLocked()
	}
	if len(s.pending) > 0 && (s.flushing || s.failGen != failed) && s.err == nil && !s.closed {
		// An Add's flush is writing (what arrived during it waits for
		// the next round), or the disk refused this one (tried again
		// after the same delay, until there is room).
		s.armed = true
		time.AfterFunc(RememberDelay, s.background)
	}
	s.cond.Broadcast()
}

// flushLocked writes and syncs everything pending as the leader; s.mu is
// released during the I/O so that followers can queue more records.
func (s *Set) flushLocked() {
	s.flushing = true
	buf, gen := s.pending, s.gen
	s.pending, s.spare = s.spare[:0], nil
	s.gen++
	n := len(buf) / recLen
	s.mu.Unlock()
	// A write the disk refuses (full, over quota) is cut off again, so
	// that the file ends with whole records, and its records wait for
	// the next flush: the set goes on once there is room. A failed sync
	// (or cut) leaves the file's tail unknown and stops the set.
	_, werr := s.f.Write(buf)
	var serr error
	if werr == nil {
		serr = s.f.Sync()
	} else if cerr := s.cutBack(); cerr != nil {
		serr = fmt.Errorf("%w, and cutting it off again: %w", werr, cerr)
	}
	s.mu.Lock()
	s.flushing = false
	s.syncs++
	switch {
	case serr != nil:
		s.spare = buf[:0]
		s.err = fmt.Errorf("write %s: %w", filepath.Base(s.path), serr)
		s.log.Error("dedup write failed; set stopped, keeping its keys in memory until it starts again in a new file", "reason", serr.Error())
		s.armRestart()
	case werr != nil:
		s.failGen, s.failErr = gen, fmt.Errorf("write %s: %w", filepath.Base(s.path), werr)
		if !s.failing {
			s.failing = true
			s.log.Error("dedup write failed; keys are kept in memory and written once the disk has room", "reason", werr.Error())
		}
		// The refused records go first in the next write; their keys
		// now wait for that write's generation.
		for off := 0; off+recLen <= len(buf); off += recLen {
			mk := memKey(buf[off : off+16])
			if _, ok := s.keys[mk]; ok {
				s.keys[mk] = s.gen
			}
		}
		p := append(buf, s.pending...)
		s.spare = s.pending[:0]
		s.pending = p
	default:
		s.spare = buf[:0]
		s.syncedGen = gen
		s.fileRecs += n
		s.size += int64(len(buf))
		if s.failing {
			s.failing = false
			s.log.Info("dedup writes work again")
		}
	}
	s.cond.Broadcast()
	if s.err == nil && !s.closed && s.fileRecs > 2*s.opts.MaxKeys && s.fileRecs > 256 && s.fileRecs >= s.compactHold {
		s.compactLocked()
	}
}

// cutBack truncates the file to its last synced record after a write
// that failed (part of it may have reached the file) and syncs that. Only
// the flush leader calls it.
func (s *Set) cutBack() error {
	if err := s.f.Truncate(s.size); err != nil {
		return err
	}
	return s.f.Sync()
}

// compactLocked rewrites the file while it holds twice the retained keys.
// Pending records are in s.order too, so the rewrite covers them; they are
// then written again by their leader, which is harmless (on load a key's
// last record counts, and these follow the rewritten ones).
//
// A rewrite that fails before its rename (a full disk: the copy needs
// room the appends did not) leaves the file as it was, and the set goes
// on appending to it; the compaction is tried again MaxKeys/4 records
// later. Only a failure after the rename (the file's name and content
// then unknown) stops the set.
func (s *Set) compactLocked() {
	old, serr := s.f.Stat()
	s.f.Close() // Windows renames nothing over an open file
	err := s.rewrite()
	if err == nil {
		f, oerr := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
		if oerr != nil {
			s.err = fmt.Errorf("reopen after compaction: %w", oerr)
			s.log.Error("dedup compaction failed; set stopped, keeping its keys in memory until it starts again in a new file", "reason", s.err.Error())
			s.armRestart()
			return
		}
		s.f, s.size = f, int64(headerLen+s.fileRecs*recLen)
		s.compactHold = 0
		return
	}
	f, oerr := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
	var now os.FileInfo
	if oerr == nil {
		now, oerr = f.Stat()
	}
	if serr != nil || oerr != nil || !os.SameFile(old, now) {
		if f != nil {
			f.Close()
		}
		s.err = errors.Join(err, serr, oerr)
		s.log.Error("dedup compaction failed; set stopped, keeping its keys in memory until it starts again in a new file", "reason", s.err.Error())
		s.armRestart()
		return
	}
	s.f = f
	s.compactHold = s.fileRecs + max(s.opts.MaxKeys/4, 256)
	s.log.Warn("dedup compaction failed; the file is kept as it is and compacted later", "reason", err.Error())
}

// Close waits for a running flush and closes the file.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for s.flushing {
		s.cond.Wait()
	}
	s.cond.Broadcast()
	if s.err != nil && !s.restartLocked() {
		// The keys kept while it was stopped are lost: at worst a
		// second delivery of what is resent after the next start.
		if s.f != nil {
			s.f.Close()
		}
		return fmt.Errorf("close dedup set: %w", s.err)
	}
	if len(s.pending) > 0 && s.err == nil {
		// Remembered keys no flush has taken yet.
		_, err := s.f.Write(s.pending)
		if err == nil {
			err = s.f.Sync()
		}
		if err != nil {
			s.f.Close()
			return fmt.Errorf("close dedup set: %w", err)
		}
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close dedup set: %w", err)
	}
	return nil
}

// restartLocked starts a stopped set again, reporting whether it runs
// (a background restart is scheduled while it is stopped: armRestart).
// The write that stopped it (a failed fsync) left the file's end
// unknown, so the file is replaced by one written from memory (rewrite:
// a new file, fsynced, renamed over it), which holds every key the set
// retains, those kept while it was stopped too. Until that works (the
// disk may still fail) the set stays stopped and keeps its keys in
// memory.
func (s *Set) restartLocked() bool {
	if s.err == nil {
		return true
	}
	if s.flushing {
		return false
	}
	if s.f != nil {
		s.f.Close() // Windows renames nothing over an open file
		s.f = nil
	}
	err := s.rewrite()
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
	}
	if err != nil {
		s.log.Warn("dedup set not started again; trying later", "reason", err.Error())
		return false
	}
	s.f, s.size = f, int64(headerLen+s.fileRecs*recLen)
	s.pending = s.pending[:0]
	s.syncedGen = s.gen // every key is in the new file
	s.gen++
	s.failGen, s.failErr, s.failing = 0, nil, false
	s.compactHold = 0
	s.err = nil
	s.log.Info("dedup set started again in a new file", "keys", s.fileRecs)
	s.cond.Broadcast()
	return true
}

// armRestart schedules a background restart of the stopped set, unless
// one is scheduled.
func (s *Set) armRestart() {
	if s.restartWait > 0 || s.closed {
		return
	}
	s.restartWait = restartDelay
	time.AfterFunc(restartDelay, s.backgroundRestart)
}

func (s *Set) backgroundRestart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := s.restartWait
	s.restartWait = 0
	if s.err == nil || s.closed {
		return
	}
	if s.flushing || !s.restartLocked() {
		// Tried again later, and less often while the disk still fails.
		s.restartWait = min(2*max(wait, restartDelay), maxRestartDelay)
		time.AfterFunc(s.restartWait, s.backgroundRestart)
	}
}
