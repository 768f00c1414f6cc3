package mllp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/ferry-health/ferry/queue/durable"
)

// SequenceStore keeps, on disk, the last sequence number accepted on each
// HL7 stream that uses the sequence number protocol (see
// hl7v2.Sequence). HL7 asks the receiver to store it "in a secure fashion
// before acknowledging" the message, so Set returns only once the number
// is fsynced.
//
// The file is a log of lines
//
//	<CRC-32C, 8 hex digits> <number> <quoted stream>
//
// the CRC taken over what follows it; the last line of a stream wins, and
// -1 forgets the stream (it takes its next number as a new start). A last
// line a crash tore (no newline) is cut off; a damaged line (its CRC
// fails) is passed over, and the lines after it still count. A write that
// fails half-way (a full disk) is cut off again at once, or, when even
// that fails, ended by the next line's newline, so the next line is never
// glued to it. Open rewrites the log with one line a stream when it has
// grown well past that or holds a damaged line, once the disk has room;
// Set does too, as the log grows past that by seqRewriteSlack lines.
type SequenceStore struct {
	path string

	mu    sync.Mutex
	f     *os.File
	w     io.Writer // f; tests put a failing writer in front
	size  int64     // bytes of whole lines in the file
	nl    bool      // a failed write left part of a line: start with a newline
	last  map[string]int64
	lines int
	bad   int // damaged lines load passed over
	// rewriteAt is the line count at which Set rewrites the log;
	// closed is set by Close (f is nil for a moment in a rewrite too).
	rewriteAt int
	closed    bool
	locks     map[string]*streamLock
}

// maxSeqStreams bounds the streams a store keeps, and maxSeqStreamLen
// the length of a stream's name. A stream is named by what the sender
// writes in MSH-3 to MSH-6, so a sender that varies them (or fills them
// with kilobytes) would otherwise grow the store's memory, its log and
// the status page (which `ferry status` reads with a size limit) without
// end. A clinic has a handful of numbered senders, and HL7's HD fields
// run to a few hundred characters.
const (
	maxSeqStreams   = 256
	maxSeqStreamLen = 1024
)

// seqRewriteSlack is how many lines past one a stream the log may grow,
// while the store is open, before it is rewritten.
const seqRewriteSlack = 1024

// streamLock serialises the messages of one stream (several connections
// may carry it) from the check of their number to the ACK.
type streamLock struct {
	sync.Mutex
	users int
}

// OpenSequenceStore opens (creating) the store at path.
func OpenSequenceStore(path string) (*SequenceStore, error) {
	s := &SequenceStore{path: path, last: map[string]int64{}, locks: map[string]*streamLock{}}
	good, err := s.load()
	if err != nil {
		return nil, err
	}
	rewritten := false
	if s.lines > 2*len(s.last)+64 || s.bad > 0 {
		// The rewrite needs room for a new file, which a full disk does
		// not have; the log serves as it is (a damaged line is passed
		// over again), and is rewritten at a later start.
		rewritten = s.rewrite() == nil
	}
	if fi, err := os.Stat(path); !rewritten && good >= 0 && err == nil && fi.Size() > good {
		// A torn last line is cut off, so the next one starts clean.
		if err := os.Truncate(path, good); err != nil {
			return nil, fmt.Errorf("sequence numbers %s: cut a torn line: %w", path, err)
		}
	}
	created := false
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sequence numbers: %w", err)
	}
	if created {
		if err := durable.SyncDir(filepath.Dir(path)); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("sequence numbers %s: %w", path, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sequence numbers %s: %w", path, err)
	}
	s.f, s.w, s.size = f, f, st.Size()
	s.rewriteAt = s.lines + 2*len(s.last) + seqRewriteSlack
	return s, nil
}

// reopen opens the log for appending again after a rewrite.
func (s *SequenceStore) reopen() error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sequence numbers: reopen %s: %w", s.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("sequence numbers %s: %w", s.path, err)
	}
	s.f, s.w, s.size, s.nl = f, f, st.Size(), false
	return nil
}

// rewriteOpen rewrites the log while the store is open: a gateway runs
// for months between starts, and the log would otherwise grow by a line
// a message until the next. Windows cannot rename a file over one held
// open, hence the close; every line is synced already. A failed rewrite
// leaves the old log whole, and is tried again after as many lines
// again; a failed reopen is tried again by the next Set.
func (s *SequenceStore) rewriteOpen() {
	_ = s.f.Close()
	s.f, s.w = nil, nil
	_ = s.rewrite()
	s.rewriteAt = s.lines + 2*len(s.last) + seqRewriteSlack
	_ = s.reopen()
}

// load reads the log. It returns the length of its whole lines when the
// last is torn (no newline), and -1 when it is not; damaged lines are
// passed over and counted (bad).
func (s *SequenceStore) load() (int64, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("sequence numbers: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var off int64
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return -1, nil
			}
			return off, nil // no newline: torn
		}
		if err != nil {
			return -1, fmt.Errorf("sequence numbers %s: %w", s.path, err)
		}
		off += int64(len(line))
		stream, n, ok := parseSeqLine(line[:len(line)-1])
		if !ok {
			s.bad++
			continue
		}
		s.apply(stream, n)
		s.lines++
	}
}

func (s *SequenceStore) apply(stream string, n int64) {
	if n < 0 {
		delete(s.last, stream)
	} else {
		s.last[stream] = n
	}
}

var seqCRC = crc32.MakeTable(crc32.Castagnoli)

func seqLine(stream string, n int64) []byte {
	body := strconv.AppendInt(nil, n, 10)
	body = append(body, ' ')
	body = strconv.AppendQuote(body, stream)
	line := fmt.Appendf(nil, "%08x ", crc32.Checksum(body, seqCRC))
	line = append(line, body...)
	return append(line, '\n')
}

func parseSeqLine(line []byte) (string, int64, bool) {
	sum, body, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(sum) != 8 {
		return "", 0, false
	}
	want, err := strconv.ParseUint(string(sum), 16, 32)
	if err != nil || uint32(want) != crc32.Checksum(body, seqCRC) {
		return "", 0, false
	}
	num, quoted, ok := bytes.Cut(body, []byte{' '})
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return "", 0, false
	}
	stream, err := strconv.Unquote(string(quoted))
	if err != nil {
		return "", 0, false
	}
	return stream, n, true
}

// rewrite replaces the log with one line a stream.
func (s *SequenceStore) rewrite() error {
	var b bytes.Buffer
	for stream, n := range s.last {
		b.Write(seqLine(stream, n))
	}
	if err := durable.WriteFile(s.path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("sequence numbers: rewrite %s: %w", s.path, err)
	}
	s.lines = len(s.last)
	return nil
}

// Last returns the last number accepted on stream; ok is false when the
// stream has none (new, or resynchronised).
func (s *SequenceStore) Last(stream string) (n int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok = s.last[stream]
	return n, ok
}

// admit reports whether stream may be numbered: it is not too long, and
// the store knows it already or has room for another. Two new streams
// admitted at once may both be added, so the bound can be passed by a
// few (no more than the connections at work): it is there against
// growth without end, not to count exactly.
func (s *SequenceStore) admit(stream string) bool {
	if len(stream) > maxSeqStreamLen {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.last[stream]
	return ok || len(s.last) < maxSeqStreams
}

// Set records n as the last number accepted on stream (-1: none) and
// returns once that is on disk.
func (s *SequenceStore) Set(stream string, n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sequence numbers: store closed")
	}
	if s.f == nil {
		if err := s.reopen(); err != nil {
			return err
		}
	}
	line := seqLine(stream, n)
	if s.nl {
		line = append([]byte{'\n'}, line...)
	}
	if _, err := s.w.Write(line); err != nil {
		// Part of the line may be in the file: cut it off, or have the
		// next line end it, so that it is not glued to the next.
		if terr := s.f.Truncate(s.size); terr != nil {
			s.nl = true
		}
		return fmt.Errorf("sequence numbers: write %s: %w", s.path, err)
	}
	if s.nl {
		// The part left before this line is in the file too.
		if st, err := s.f.Stat(); err == nil {
			s.size, s.nl = st.Size(), false
		}
	} else {
		s.size += int64(len(line))
	}
	if err := durable.Datasync(s.f); err != nil {
		return fmt.Errorf("sequence numbers: sync %s: %w", s.path, err)
	}
	s.apply(stream, n)
	s.lines++
	if s.lines >= s.rewriteAt {
		s.rewriteOpen()
	}
	return nil
}

// Streams returns a copy of every stream's last number.
func (s *SequenceStore) Streams() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.last)
}

// lock serialises the handling of stream's messages; call the function
// it returns to unlock.
func (s *SequenceStore) lock(stream string) func() {
	s.mu.Lock()
	l := s.locks[stream]
	if l == nil {
		l = &streamLock{}
		s.locks[stream] = l
	}
	l.users++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		if l.users--; l.users == 0 {
			delete(s.locks, stream)
		}
		s.mu.Unlock()
	}
}

// Close closes the log file.
func (s *SequenceStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return nil // a rewrite's reopen failed
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// ReadSequences reads the store at path without changing it (a running
// gateway may be appending): every stream's last number, keyed as the
// store keys them ("<source id> <stream>"). A missing file has none.
func ReadSequences(path string) (map[string]int64, error) {
	s := &SequenceStore{path: path, last: map[string]int64{}}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s.last, nil
}
