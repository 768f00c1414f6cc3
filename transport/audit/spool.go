package audit

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// spool is the durable, bounded, ordered store of audit records (events,
// see record.go) that could not be sent. It is a directory of numbered
// segment files (0000000000000001.seg …) of records
//
//	uint32 length | uint32 CRC-32C of the record | record
//
// and a cursor file naming the first unsent record ("<segment> <offset>").
// Appends are fsynced once per batch. When the spool would grow past its
// bound, whole segments are dropped oldest first and their records
// counted; a record torn by a crash ends its segment and is discarded.
//
// A crash between sending records and writing the cursor resends them:
// the audit trail is at-least-once, like syslog over TLS itself.
type spool struct {
	dir      string
	maxBytes int64
	segBytes int64

	segs    []segment // oldest first; segs[0] holds the head
	headOff int64     // read offset in segs[0]
	w       *os.File  // append handle of the last segment, nil until needed
	nextSeq uint64
	// torn is set when a failed append could not be cut off the last
	// segment: the next append starts a new one.
	torn bool
	// dirty is set while records written to w are not yet fsynced.
	dirty bool
	// syncedSize is the last segment's size at its last fsync, and
	// unsynced the records written to it since (see dropUnsynced).
	syncedSize int64
	unsynced   int
	// syncHook, when set (tests), is called with the name of each
	// segment file before it is fsynced.
	syncHook func(name string)
}

type segment struct {
	seq     uint64
	size    int64 // bytes in the file
	records int   // unsent records (from headOff for segs[0])
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const recHeader = 8

func segName(seq uint64) string { return fmt.Sprintf("%016d.seg", seq) }

// openSpool opens (creating) dir, removes segments the cursor has passed
// and truncates a torn last record.
func openSpool(dir string, maxBytes int64) (*spool, error) {
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create audit spool %q: %w", dir, err)
	}
	s := &spool{dir: dir, maxBytes: maxBytes, segBytes: max(maxBytes/8, 1)}
	var curSeq uint64
	var curOff int64
	if b, err := os.ReadFile(filepath.Join(dir, "cursor")); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			curSeq, _ = strconv.ParseUint(f[0], 10, 64)
			curOff, _ = strconv.ParseInt(f[1], 10, 64)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read audit spool cursor: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read audit spool %q: %w", dir, err)
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		if durable.IsTemp(name) {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 10, 64); err == nil && strings.HasSuffix(name, ".seg") {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, seq := range seqs {
		s.nextSeq = max(s.nextSeq, seq+1)
		path := filepath.Join(dir, segName(seq))
		if seq < curSeq {
			// Sent before a crash that came after the cursor was written.
			if err := os.Remove(path); err != nil {
				return nil, fmt.Errorf("remove sent audit spool segment: %w", err)
			}
			continue
		}
		from := int64(0)
		if seq == curSeq {
			from = curOff
		}
		seg, err := scanSegment(path, seq, from)
		if err != nil {
			return nil, err
		}
		if len(s.segs) == 0 {
			s.headOff = min(from, seg.size)
		}
		s.segs = append(s.segs, seg)
	}
	// Never reuse a number the cursor has passed: openSpool would take
	// the new segment for a sent one.
	s.nextSeq = max(s.nextSeq, curSeq, 1)
	if len(s.segs) > 0 {
		s.syncedSize = s.segs[len(s.segs)-1].size
	}
	return s, nil
}

// scanSegment counts the records from offset from and truncates the file
// after the last whole one (a record torn by a crash). A damaged record
// with whole records after it (a bad sector, not a crash) is kept and
// counted, so that the sender drops it and counts it lost
// (Sink.drainSpool) rather than this cutting off, uncounted, every record
// after it; when its length field is the damage, the next record is found
// where a whole one with a matching checksum begins (afterDamage).
func scanSegment(path string, seq uint64, from int64) (segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return segment{}, fmt.Errorf("open audit spool segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return segment{}, fmt.Errorf("open audit spool segment: %w", err)
	}
	r := bufio.NewReader(f)
	var off int64
	n := 0
	for {
		msg, err := readRecord(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// Damaged or torn: the rest is read whole, which only a
			// damaged spool or a crash's torn tail pays.
			rest := make([]byte, st.Size()-off)
			if _, err := f.ReadAt(rest, off); err != nil && !errors.Is(err, io.EOF) {
				return segment{}, fmt.Errorf("read damaged audit spool segment: %w", err)
			}
			end, more := scanDamaged(rest, 0, from-off)
			off += end
			n += more
			break
		}
		if off >= from {
			n++
		}
		off += recHeader + int64(len(msg))
	}
	if st.Size() != off {
		if err := f.Truncate(off); err != nil {
			return segment{}, fmt.Errorf("truncate torn audit spool segment: %w", err)
		}
		if err := f.Sync(); err != nil {
			return segment{}, fmt.Errorf("sync audit spool segment: %w", err)
		}
	}
	return segment{seq: seq, size: off, records: n}, nil
}

// scanDamaged goes on counting the records of data from off, where one
// could not be read, and returns the end of the last whole record and the
// count (of those at or after from). Each damaged stretch that whole
// records follow counts as one record.
func scanDamaged(data []byte, off, from int64) (end int64, n int) {
	for off < int64(len(data)) {
		start := off
		if size, ok := recordAt(data, off); ok {
			off += recHeader + size
		} else if next, ok := afterDamage(data, off); ok {
			off = next
		} else {
			break // torn by a crash: nothing whole after it
		}
		if start >= from {
			n++
		}
	}
	return off, n
}

// maxResyncRecord bounds the records afterDamage looks for: an audit event
// is a few kilobytes, and a bound keeps the search short.
const maxResyncRecord = 1 << 20

// recordAt reports whether a whole record with a matching checksum starts
// at off in data, and its length.
func recordAt(data []byte, off int64) (int64, bool) {
	if off < 0 || off+recHeader > int64(len(data)) {
		return 0, false
	}
	n := int64(binary.BigEndian.Uint32(data[off:]))
	if n == 0 || n > 1<<26 || off+recHeader+n > int64(len(data)) {
		return 0, false
	}
	return n, crc32.Checksum(data[off+recHeader:off+recHeader+n], castagnoli) == binary.BigEndian.Uint32(data[off+4:])
}

// afterDamage returns where reading can go on after the record at off
// that could not be read: just past it when only its bytes are damaged
// (its length leads to a whole record), else at the next offset where a
// whole record begins (its length was damaged). ok is false when no whole
// record follows: the rest is a torn tail. Two damaged records in a row
// may be passed as one.
func afterDamage(data []byte, off int64) (next int64, ok bool) {
	if off+recHeader <= int64(len(data)) {
		end := off + recHeader + int64(binary.BigEndian.Uint32(data[off:]))
		if _, ok := recordAt(data, end); ok && end > off+recHeader {
			return end, true
		}
	}
	for p := off + 1; p+recHeader < int64(len(data)); p++ {
		if n := binary.BigEndian.Uint32(data[p:]); n == 0 || n > maxResyncRecord {
			continue
		}
		if _, ok := recordAt(data, p); ok {
			return p, true
		}
	}
	return 0, false
}

// errChecksum is a record whose bytes are all there but do not match
// their checksum; readRecord returns them with it.
var errChecksum = errors.New("audit spool record checksum mismatch")

func readRecord(r io.Reader) ([]byte, error) {
	var h [recHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n > 1<<26 {
		return nil, errors.New("audit spool record too long")
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	if crc32.Checksum(msg, castagnoli) != binary.BigEndian.Uint32(h[4:]) {
		return msg, errChecksum
	}
	return msg, nil
}

// Len is the number of unsent records.
func (s *spool) Len() int {
	n := 0
	for _, g := range s.segs {
		n += g.records
	}
	return n
}

// Bytes is the spool's size on disk.
func (s *spool) Bytes() int64 {
	var n int64
	for _, g := range s.segs {
		n += g.size
	}
	return n
}

// syncFailed is a failed fsync of the segment being appended to; from
// is the first of Append's records that it leaves not durable.
type syncFailed struct {
	from int
	err  error
}

func (e *syncFailed) Error() string { return e.err.Error() }
func (e *syncFailed) Unwrap() error { return e.err }

// Append writes msgs after the last record, fsyncs once, and then drops
// the oldest segments while the spool is over its bound; it returns how
// many records were dropped.
//
// A failed fsync may have lost the records it was to make durable: the
// kernel can drop the pages it could not write and mark them clean, so
// that syncing the same file again passes without them. Those records
// are taken off the segment (dropUnsynced), which is never synced again,
// and written once more in a new one; when that fails too they are not
// in the spool, and the caller counts them lost.
func (s *spool) Append(msgs [][]byte) (dropped int, err error) {
	dropped, err = s.append(msgs)
	var sf *syncFailed
	if !errors.As(err, &sf) {
		return dropped, err
	}
	s.dropUnsynced()
	more, err := s.append(msgs[sf.from:])
	if errors.As(err, &sf) {
		s.dropUnsynced()
	}
	return dropped + more, err
}

// dropUnsynced takes the records written since the last segment's last
// fsync off it, after that fsync failed: they count no more, the file is
// cut back (a record it still holds after a crash is sent twice, which
// the audit trail allows), and the next record starts a new segment.
func (s *spool) dropUnsynced() {
	if len(s.segs) == 0 {
		return
	}
	last := &s.segs[len(s.segs)-1]
	if s.w != nil {
		s.w.Close()
		s.w = nil
	}
	os.Truncate(filepath.Join(s.dir, segName(last.seq)), s.syncedSize)
	last.size = s.syncedSize
	last.records = max(last.records-s.unsynced, 0)
	s.unsynced, s.dirty, s.torn = 0, false, true
}

func (s *spool) append(msgs [][]byte) (dropped int, err error) {
	for i, m := range msgs {
		if len(s.segs) == 0 || s.segs[len(s.segs)-1].size >= s.segBytes || s.torn {
			if err := s.rotate(); err != nil {
				var sf *syncFailed
				if errors.As(err, &sf) {
					sf.from = max(i-s.unsynced, 0)
				}
				return dropped, err
			}
		}
		if s.w == nil {
			f, err := os.OpenFile(filepath.Join(s.dir, segName(s.segs[len(s.segs)-1].seq)), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return dropped, fmt.Errorf("open audit spool segment: %w", err)
			}
			s.w = f
		}
		var h [recHeader]byte
		binary.BigEndian.PutUint32(h[:4], uint32(len(m)))
		binary.BigEndian.PutUint32(h[4:], crc32.Checksum(m, castagnoli))
		last := &s.segs[len(s.segs)-1]
		s.dirty = true
		if _, err := s.w.Write(append(h[:], m...)); err != nil {
			// A write the disk refused part way (full) may have left
			// part of the record: cut it off, or the records appended
			// after it, once there is room, would follow a torn one
			// that ends every Peek (and, at the next open, the
			// segment). When even that fails, the next record starts
			// a new segment; Peek never reads past a segment's
			// counted records, and openSpool cuts the torn tail.
			if terr := s.w.Truncate(last.size); terr != nil {
				s.torn = true
			}
			// The records before it are counted as spooled: they
			// are made durable before Append returns.
			if serr := s.sync(); serr != nil {
				var sf *syncFailed
				if errors.As(serr, &sf) {
					sf.from = max(i-s.unsynced, 0)
				}
				return dropped, serr
			}
			return dropped, fmt.Errorf("append to audit spool: %w", err)
		}
		last.size += recHeader + int64(len(m))
		last.records++
		s.unsynced++
	}
	if err := s.sync(); err != nil {
		var sf *syncFailed
		if errors.As(err, &sf) {
			sf.from = max(len(msgs)-s.unsynced, 0)
		}
		return dropped, err
	}
	for s.Bytes() > s.maxBytes && len(s.segs) > 1 {
		dropped += s.segs[0].records
		if err := s.dropHead(); err != nil {
			return dropped, err
		}
	}
	return dropped, nil
}

// sync fsyncs the segment being appended to, if it has records not yet
// synced.
func (s *spool) sync() error {
	if s.w == nil || !s.dirty {
		return nil
	}
	if s.syncHook != nil {
		s.syncHook(filepath.Base(s.w.Name()))
	}
	if err := s.w.Sync(); err != nil {
		return &syncFailed{err: fmt.Errorf("sync audit spool: %w", err)}
	}
	s.dirty = false
	s.syncedSize, s.unsynced = s.segs[len(s.segs)-1].size, 0
	return nil
}

// rotate starts a new segment.
func (s *spool) rotate() error {
	if s.w != nil {
		// The records this Append wrote to the full segment are synced
		// now: Append's own fsync, at the end, is of the new segment
		// only.
		if err := s.sync(); err != nil {
			return err
		}
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("close audit spool segment: %w", err)
		}
		s.w = nil
	}
	seq := s.nextSeq
	s.nextSeq++
	f, err := os.OpenFile(filepath.Join(s.dir, segName(seq)), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create audit spool segment: %w", err)
	}
	if err := durable.SyncDir(s.dir); err != nil {
		f.Close()
		return fmt.Errorf("sync audit spool directory: %w", err)
	}
	s.w = f
	s.torn = false
	s.segs = append(s.segs, segment{seq: seq})
	s.syncedSize, s.unsynced = 0, 0
	return nil
}

// damagedError is a spool segment that cannot be read at the next record
// (its checksum fails, it is cut short, the file is gone): a fault of the
// local disk, not of the repository. SkipDamaged moves past it.
type damagedError struct {
	seg string
	err error
}

func (e *damagedError) Error() string {
	return "audit spool segment " + e.seg + " is damaged: " + e.err.Error()
}

func (e *damagedError) Unwrap() error { return e.err }

// Peek reads up to n unsent records in order without consuming them. At
// a damaged record it returns the records before it and a
// *damagedError.
func (s *spool) Peek(n int) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(s.segs) && len(out) < n; i++ {
		g := s.segs[i]
		if g.records == 0 {
			continue
		}
		f, err := os.Open(filepath.Join(s.dir, segName(g.seq)))
		if errors.Is(err, os.ErrNotExist) {
			return out, &damagedError{seg: segName(g.seq), err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("open audit spool segment: %w", err)
		}
		if i == 0 {
			if _, err := f.Seek(s.headOff, io.SeekStart); err != nil {
				f.Close()
				return nil, fmt.Errorf("seek audit spool segment: %w", err)
			}
		}
		r := bufio.NewReader(f)
		for k := 0; k < g.records && len(out) < n; k++ {
			m, err := readRecord(r)
			if err != nil {
				f.Close()
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF // fewer records than counted
				}
				return out, &damagedError{seg: segName(g.seq), err: err}
			}
			out = append(out, m)
		}
		f.Close()
	}
	return out, nil
}

// Consume marks the first records (as returned by Peek) sent: finished
// segments are deleted and the cursor is rewritten durably.
func (s *spool) Consume(msgs [][]byte) error {
	for _, m := range msgs {
		for len(s.segs) > 0 && s.segs[0].records == 0 {
			if err := s.dropHead(); err != nil {
				return err
			}
		}
		if len(s.segs) == 0 {
			break
		}
		s.headOff += recHeader + int64(len(m))
		s.segs[0].records--
	}
	if s.Len() == 0 {
		// Everything sent: start afresh.
		for len(s.segs) > 0 {
			if err := s.dropHead(); err != nil {
				return err
			}
		}
		return nil
	}
	for len(s.segs) > 0 && s.segs[0].records == 0 {
		if err := s.dropHead(); err != nil {
			return err
		}
	}
	return s.writeCursor()
}

// SkipDamaged consumes the first unsent record, which Peek found damaged,
// and returns how many records that loses: that one when a whole record
// follows it (afterDamage finds it even past a garbled length), else what
// is left of its segment. Call it once the records before it are
// consumed.
func (s *spool) SkipDamaged() (lost int, err error) {
	for len(s.segs) > 0 && s.segs[0].records == 0 {
		if err := s.dropHead(); err != nil {
			return 0, err
		}
	}
	if len(s.segs) == 0 {
		return 0, nil
	}
	g := &s.segs[0]
	if data, err := os.ReadFile(filepath.Join(s.dir, segName(g.seq))); err == nil && int64(len(data)) >= g.size {
		if next, ok := afterDamage(data[:g.size], s.headOff); ok {
			s.headOff = next
			g.records--
			if g.records == 0 {
				return 1, s.dropHead()
			}
			return 1, s.writeCursor()
		}
	}
	lost = g.records
	g.records = 0
	return lost, s.dropHead()
}

// dropHead deletes the oldest segment (sent or dropped) and moves the
// cursor to the next one.
func (s *spool) dropHead() error {
	g := s.segs[0]
	if len(s.segs) == 1 && s.w != nil {
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("close audit spool segment: %w", err)
		}
		s.w = nil
	}
	s.segs = s.segs[1:]
	s.headOff = 0
	// The cursor moves first, so a crash between the two steps leaves a
	// segment that openSpool knows to be finished.
	if err := s.writeCursor(); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(s.dir, segName(g.seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove audit spool segment: %w", err)
	}
	return nil
}

func (s *spool) writeCursor() error {
	seq, off := s.nextSeq, int64(0)
	if len(s.segs) > 0 {
		seq, off = s.segs[0].seq, s.headOff
	}
	if err := durable.WriteFile(filepath.Join(s.dir, "cursor"), []byte(fmt.Sprintf("%d %d\n", seq, off)), 0o600); err != nil {
		return fmt.Errorf("write audit spool cursor: %w", err)
	}
	return nil
}

// Close closes the append handle.
func (s *spool) Close() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	if err != nil {
		return fmt.Errorf("close audit spool: %w", err)
	}
	return nil
}

// SpoolKeys counts, per key id, the unsent records of the spool in dir
// that are sealed (Options.Key), without changing it: a previous key
// (encryption.previous_key_files) is needed until they are sent, since a
// record that no configured key opens is dropped. A missing dir holds
// none.
func SpoolKeys(dir string) (map[string]int, error) {
	use := map[string]int{}
	var curSeq uint64
	var curOff int64
	if b, err := os.ReadFile(filepath.Join(dir, "cursor")); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			curSeq, _ = strconv.ParseUint(f[0], 10, 64)
			curOff, _ = strconv.ParseInt(f[1], 10, 64)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read audit spool cursor: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return use, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit spool %q: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 10, 64)
		if err != nil || !strings.HasSuffix(name, ".seg") || seq < curSeq {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("open audit spool segment: %w", err)
		}
		r := bufio.NewReader(f)
		var off int64
		for {
			rec, err := readRecord(r)
			if err != nil {
				break
			}
			if seq > curSeq || off >= curOff {
				if id, ok := seal.KeyIDOf(rec); ok {
					use[id]++
				}
			}
			off += recHeader + int64(len(rec))
		}
		f.Close()
	}
	return use, nil
}
