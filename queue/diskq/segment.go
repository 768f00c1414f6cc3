package diskq

import (
	"bufio"
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
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ferry-health/ferry/queue/durable"
)

const (
	// segMagic opens every segment file; the last byte is the format version.
	segMagic = "FERRYQ\x00\x01"
	// segHeaderLen is magic(8) + firstSeq(u64) + crc32c(u32) + reserved(u32).
	segHeaderLen = 24
	segSuffix    = ".seg"
)

// segment is one file of the log. Only the writer goroutine writes to it;
// readers use ReadAt on f, which is safe concurrently.
type segment struct {
	idx      uint64
	path     string
	f        *os.File
	size     int64       // bytes of valid data (header included), synced
	wend     int64       // writer-owned: end of the data written, synced or not
	zeroEnd  int64       // the file holds written zeros from size up to here (see prezero)
	live     int         // items whose newest PUT is here and whose ACK is not yet synced
	firstSeq uint64      // next seq when the segment was created
	dio      *directFile // the newest segment's direct-write descriptor, or nil (see direct.go)
}

// close closes the segment's descriptors.
func (s *segment) close() error {
	derr := s.dropDirect()
	return errors.Join(s.f.Close(), derr)
}

// dropDirect closes the direct-write descriptor; the segment is written
// buffered from then on, if at all.
func (s *segment) dropDirect() error {
	d := s.dio
	s.dio = nil
	return d.close()
}

func segName(idx uint64) string { return fmt.Sprintf("%016d%s", idx, segSuffix) }

// listSegments returns the segment indexes in dir, oldest first.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments in %s: %w", dir, err)
	}
	var idx []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		idx = append(idx, n)
	}
	slices.Sort(idx)
	return idx, nil
}

func segHeader(firstSeq uint64) []byte {
	b := make([]byte, segHeaderLen)
	copy(b, segMagic)
	binary.LittleEndian.PutUint64(b[8:], firstSeq)
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	return b
}

// parseSegHeader returns the first seq stored in a segment header.
func parseSegHeader(b []byte) (uint64, error) {
	if len(b) < segHeaderLen || string(b[:8]) != segMagic {
		return 0, errors.New("bad segment magic")
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, errors.New("bad segment header crc")
	}
	return binary.LittleEndian.Uint64(b[8:]), nil
}

// createSegment creates, syncs and registers in the directory a new, empty
// segment file. The directory fsync makes the file survive a crash, so a
// record written to it later is not lost with the directory entry.
func createSegment(dir string, idx, firstSeq uint64) (*segment, error) {
	path := filepath.Join(dir, segName(idx))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	// A file that is not finished (a full disk) is removed, so that the
	// next try can create it again; it holds no record yet.
	fail := func(err error) (*segment, error) {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if _, err := f.Write(segHeader(firstSeq)); err != nil {
		return fail(fmt.Errorf("write segment header %s: %w", path, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("sync segment %s: %w", path, err))
	}
	if err := durable.SyncDir(dir); err != nil {
		return fail(err)
	}
	return &segment{idx: idx, path: path, f: f, size: segHeaderLen, wend: segHeaderLen, firstSeq: firstSeq}, nil
}

// prezeroLead is how far ahead of the data the writer keeps the newest
// segment filled with written zeros. An append inside that region changes
// neither the file size nor the extent map, so the fdatasync that every
// commit waits for writes only the data blocks and skips the file-system
// metadata; on ext4 that measured 100 µs against 160-180 µs for a plain
// append (fallocate does not help: its extents are "unwritten" and the
// first write converts them, which is journaled again). Zeros are never
// a valid record (length 0), so replay treats them as a torn tail.
//
// The zeros are written a chunk at a time, well ahead, and their
// write-back is started at once (startWriteback): a commit's fdatasync
// then finds them already clean. Written just ahead of the data and left
// dirty, every chunk rode along with some commit's sync, which then wrote
// a megabyte of zeros beside a few kilobytes of records: a 2 ms stall for
// every producer waiting on it, once every ~75 messages.
const (
	prezeroChunk = 1 << 20
	prezeroLead  = 4 * prezeroChunk
)

var zeroBlock = make([]byte, prezeroChunk)

// prezero keeps the written-zero region at least prezeroLead-prezeroChunk
// past end (where the data about to be written stops), but not past limit
// (beyond it the segment takes no more appends). The caller syncs
// afterwards. After an error (a full disk) zeroEnd still says how far the
// file now reaches, a short write included, so that trimZeros cuts all of
// it.
func (s *segment) prezero(end, limit int64) error {
	target := min(end+prezeroLead, limit)
	if s.zeroEnd >= min(end+prezeroLead-prezeroChunk, limit) {
		return nil
	}
	for {
		from := max(s.zeroEnd, end)
		if from >= target {
			return nil
		}
		to := min(from+prezeroChunk, target)
		n, err := s.f.WriteAt(zeroBlock[:to-from], from)
		if err != nil {
			// os.File.WriteAt returns no count with its error even when
			// the kernel wrote part of the chunk (a write cut short by a
			// full disk or a file size limit): take the file's size as
			// the end, so that trimZeros cuts those zeros too (left in
			// a segment that is not the last, replay would report it
			// damaged).
			s.zeroEnd = to
			if st, serr := s.f.Stat(); serr == nil {
				s.zeroEnd = max(st.Size(), from)
			}
			return fmt.Errorf("pre-zero segment %s: %w", filepath.Base(s.path), err)
		}
		startWriteback(s.f, from, int64(n))
		s.zeroEnd = from + int64(n)
	}
}

// trimZeros cuts the pre-zeroed tail off a segment that takes no more
// appends, and syncs, so that replay never sees it as damage. A failed
// sync is a *syncError.
func (s *segment) trimZeros() error {
	if s.zeroEnd <= s.size {
		return nil
	}
	if err := s.f.Truncate(s.size); err != nil {
		return fmt.Errorf("trim segment %s: %w", filepath.Base(s.path), err)
	}
	s.zeroEnd = 0
	if err := datasync(s.f); err != nil {
		return &syncError{fmt.Errorf("sync segment %s: %w", filepath.Base(s.path), err)}
	}
	return nil
}

// cutTail truncates the segment back to wend, the end of its last record
// written in full, after a write that failed part way, and syncs: the
// records of the failed write are not stored (their Puts fail, their seqs
// go to the next batch), so no byte of them may be left for the next
// write to land before or for replay to find. The pre-zeroed region goes
// with them; prezero builds it again once there is room. A failed sync is
// a *syncError.
func (s *segment) cutTail() error {
	if err := s.f.Truncate(s.wend); err != nil {
		return fmt.Errorf("cut failed write off segment %s: %w", filepath.Base(s.path), err)
	}
	s.zeroEnd = 0
	if err := datasync(s.f); err != nil {
		return &syncError{fmt.Errorf("sync segment %s: %w", filepath.Base(s.path), err)}
	}
	return nil
}

// scanResult is what scanning one segment found.
type scanResult struct {
	firstSeq  uint64
	headerOK  bool
	end       int64 // offset just past the last good record
	corrupt   int   // bad regions skipped in the middle
	tornBytes int64 // bytes after end that are not records
	zeros     bool  // ... and all of them zero bytes (see replay)
}

// scanSegment calls fn for every record of f that passes its CRC, in file
// order. A bad record is skipped when a good record follows it (corruption
// in the middle: logged, counted); when nothing good follows, the rest is a
// torn tail and scanning stops there, leaving it to the caller to truncate.
// A file that ends sooner than it did when the scan began (the owner cut
// its pre-zeroed tail off meanwhile, read beside it) ends there, as a torn
// tail. With live set, the segment is the newest of a queue its owner has
// open (a read beside it): the owner may be writing records there while
// they are read, so the first record that does not check is where its
// writing stood, not damage, and the scan ends there as at a torn tail.
// fn's rec is only valid during the call.
func scanSegment(f *os.File, name string, log *slog.Logger, live bool, fn func(off int64, rec []byte)) (scanResult, error) {
	var res scanResult
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("stat segment %s: %w", name, err)
	}
	size := st.Size()
	hdr := make([]byte, segHeaderLen)
	if _, err := f.ReadAt(hdr, 0); err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("read segment header %s: %w", name, err)
	}
	res.firstSeq, err = parseSegHeader(hdr)
	res.headerOK = err == nil
	if !res.headerOK {
		log.Warn("queue segment header unreadable", "segment", name, "size", size, "reason", err.Error())
	}
	off := int64(segHeaderLen)
	res.end = min(off, size)
	if size <= off {
		return res, nil
	}
	rd := bufio.NewReaderSize(io.NewSectionReader(f, off, size-off), 1<<20)
	var buf []byte
	hb := make([]byte, recHeaderLen)
	for off < size {
		bad := ""
		var rec []byte
		if size-off < recHeaderLen {
			bad = "short record header"
		} else if _, err := io.ReadFull(rd, hb); isShort(err) {
			bad = "record runs past end of file"
		} else if err != nil {
			return res, fmt.Errorf("read segment %s at %d: %w", name, off, err)
		} else if l := parseHeader(hb); l == 0 {
			bad = "impossible record length"
		} else if off+int64(l) > size {
			bad = "record runs past end of file"
		} else {
			if cap(buf) < l {
				buf = make([]byte, l)
			}
			rec = buf[:l]
			copy(rec, hb)
			if _, err := io.ReadFull(rd, rec[recHeaderLen:]); isShort(err) {
				bad = "record runs past end of file"
			} else if err != nil {
				return res, fmt.Errorf("read segment %s at %d: %w", name, off, err)
			} else if err := checkRecord(rec); err != nil {
				bad = err.Error()
			}
		}
		if bad == "" {
			fn(off, rec)
			off += int64(len(rec))
			res.end = off
			continue
		}
		if live {
			res.tornBytes = size - off
			return res, nil
		}
		// Every seq a record in this segment names was taken before
		// it or by one of its own PUT records, so none is beyond that:
		// resync passes over offsets that announce more.
		maxSeq := uint64(math.MaxUint64)
		if res.headerOK {
			maxSeq = res.firstSeq + uint64(size)/(recHeaderLen+putFixedLen)
		}
		next, zeros, err := resync(f, off, size, maxSeq)
		if err != nil {
			return res, fmt.Errorf("resync segment %s at %d: %w", name, off, err)
		}
		if next < 0 {
			res.tornBytes, res.zeros = size-off, zeros
			if zeros {
				// Logged by the caller, which knows whether this is
				// the newest segment, where they are no damage.
				return res, nil
			}
			log.Warn("queue segment has a torn tail", "segment", name, "offset", off, "bytes", size-off, "reason", bad)
			return res, nil
		}
		res.corrupt++
		log.Error("queue record corrupt, skipped", "segment", name, "offset", off, "skipped_bytes", next-off, "reason", bad)
		off = next
		rd.Reset(io.NewSectionReader(f, off, size-off))
	}
	return res, nil
}

// isShort reports whether a read ended at the end of the file.
func isShort(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// resync looks for the first offset after bad where a record with a valid
// CRC and a seq below maxSeq starts, or returns -1; zeros then says
// whether everything from bad on is zero bytes (the pre-zeroed space, not
// a torn write). It is only called on damage, so it trades memory (the
// rest of the segment) for simplicity.
func resync(f *os.File, bad, size int64, maxSeq uint64) (next int64, zeros bool, err error) {
	rest := make([]byte, size-bad)
	if _, err := f.ReadAt(rest, bad); err != nil && !errors.Is(err, io.EOF) {
		return 0, false, err
	}
	for p := 1; p+recHeaderLen <= len(rest); p++ {
		l := parseHeader(rest[p:])
		if l < recHeaderLen || p+l > len(rest) {
			continue
		}
		// The shape and the seq first: the CRC of a candidate costs its
		// length, and in damaged random-looking bytes (a sealed body)
		// one offset in a few hundred announces a length that fits,
		// megabytes each.
		if rec := rest[p : p+l]; shapeOK(rec) && recSeq(rec) < maxSeq && resyncCheck(rec) == nil {
			return bad + int64(p), false, nil
		}
	}
	return -1, !slices.ContainsFunc(rest, func(b byte) bool { return b != 0 }), nil
}

// resyncCRCs counts the offsets whose CRC resync has checked, for the
// tests: the work it does in damaged bytes, which no answer shows.
var resyncCRCs atomic.Int64

// resyncCheck is checkRecord for resync, counted.
func resyncCheck(rec []byte) error {
	resyncCRCs.Add(1)
	return checkRecord(rec)
}

// datasync is the queue's commit flush (fdatasync on Linux).
func datasync(f *os.File) error { return durable.Datasync(f) }
