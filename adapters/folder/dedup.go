package folder

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Deduper remembers which contents were already consumed, keyed by the
// SHA-256 of the content, so that the same export dropped twice (or a file
// consumed just before a crash and found again in processing/) is not sent
// twice. Add must be durable when it returns nil. queue/dedup's store fits
// this interface; SeenFile is the engine's own default.
type Deduper interface {
	Seen(key [32]byte) bool
	Add(key [32]byte) error
}

// SeenFile is a durable Deduper: an append-only file of 32-byte keys,
// fsynced on every Add and loaded into memory on open. It grows by 32 bytes
// per consumed file (a million files: 32 MB).
type SeenFile struct {
	mu  sync.Mutex
	f   *os.File
	set map[[32]byte]struct{}
	// size is the length of the file's whole records, which may hold a
	// key more than once (an Add whose fsync failed, then its retry).
	size int64
}

var _ Deduper = (*SeenFile)(nil)

// OpenSeenFile opens or creates the seen-set at path. A torn last record
// (a crash during Add) is cut off: that Add never returned nil.
func OpenSeenFile(path string) (*SeenFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open seen-set: %w", err)
	}
	return newSeenFile(f, path)
}

// newSeenFile loads the seen-set from f (opened read-write), which it then
// owns; path names it in errors. The engine opens f through its work
// folder's os.Root.
func newSeenFile(f *os.File, path string) (*SeenFile, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read seen-set %s: %w", path, err)
	}
	whole := len(data) / 32 * 32
	if whole != len(data) {
		if err := f.Truncate(int64(whole)); err != nil {
			f.Close()
			return nil, fmt.Errorf("repair seen-set %s: %w", path, err)
		}
	}
	if _, err := f.Seek(int64(whole), io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek seen-set %s: %w", path, err)
	}
	s := &SeenFile{f: f, set: make(map[[32]byte]struct{}, whole/32), size: int64(whole)}
	for r := bytes.NewReader(data[:whole]); ; {
		var k [32]byte
		if _, err := io.ReadFull(r, k[:]); err != nil {
			break
		}
		s.set[k] = struct{}{}
	}
	return s, nil
}

// Seen reports whether key was added before.
func (s *SeenFile) Seen(key [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.set[key]
	return ok
}

// Add records key and returns after it is fsynced.
func (s *SeenFile) Add(key [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[key]; ok {
		return nil
	}
	if s.f == nil {
		return errors.New("seen-set is closed")
	}
	if _, err := s.f.Write(key[:]); err != nil {
		// Cut a partial record off so later records stay aligned.
		s.cut()
		return fmt.Errorf("append seen-set: %w", err)
	}
	s.size += 32
	if err := s.f.Sync(); err != nil {
		// The record may be lost though a later fsync passes (the
		// kernel drops pages it could not write): it is cut off, and
		// the key is written anew when the file is tried again.
		s.size -= 32
		s.cut()
		return fmt.Errorf("sync seen-set: %w", err)
	}
	s.set[key] = struct{}{}
	return nil
}

// cut truncates the file to its whole records (s.size) and moves the
// write offset there, so that the next record overwrites what is left
// should the truncate fail.
func (s *SeenFile) cut() {
	_ = s.f.Truncate(s.size)
	_, _ = s.f.Seek(s.size, io.SeekStart)
}

// Close releases the file; it is idempotent.
func (s *SeenFile) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// LastTaken remembers, durably, the seen-set key of the last file taken
// under each name: an append-only file of 32-byte records (the first 16
// bytes of the name's SHA-256, then of the key: 128 bits tell a million
// names or keys apart at odds of about 1e-27, as queue/dedup's memory
// does), fsynced on every Set, the last record of a name winning when it
// is loaded. It grows as the seen-set does, by 32 bytes per file taken. The seen-set alone took a nightly
// export written under one name for a re-drop whenever a night's was
// byte for byte an earlier night's (a change one night, undone the
// next), and the exchange kept the change; with this a file is a
// duplicate only while it is the last taken under its name, or when
// none was taken under it (the same export dropped under another name).
type LastTaken struct {
	mu   sync.Mutex
	f    *os.File
	last map[[16]byte][16]byte
	size int64 // the length of the file's whole records
}

const lastTakenRecord = 32

// newLastTaken loads the records of f (opened read-write), which it then
// owns; path names it in errors. A torn last record (a crash during
// Set) is cut off: that Set never returned nil.
func newLastTaken(f *os.File, path string) (*LastTaken, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	whole := len(data) / lastTakenRecord * lastTakenRecord
	if whole != len(data) {
		if err := f.Truncate(int64(whole)); err != nil {
			f.Close()
			return nil, fmt.Errorf("repair %s: %w", path, err)
		}
	}
	if _, err := f.Seek(int64(whole), io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek %s: %w", path, err)
	}
	l := &LastTaken{f: f, last: map[[16]byte][16]byte{}, size: int64(whole)}
	for i := 0; i < whole; i += lastTakenRecord {
		l.last[[16]byte(data[i:i+16])] = [16]byte(data[i+16 : i+32])
	}
	return l, nil
}

// Get returns the first 16 bytes of the key of the last file taken
// under name, if any.
func (l *LastTaken) Get(name string) ([16]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k, ok := l.last[nameID(name)]
	return k, ok
}

// nameID is the first 16 bytes of name's SHA-256.
func nameID(name string) [16]byte {
	h := sha256.Sum256([]byte(name))
	return [16]byte(h[:16])
}

// Set records key as that of the last file taken under name, and returns
// after it is fsynced.
func (l *LastTaken) Set(name string, key [32]byte) error {
	n, k := nameID(name), [16]byte(key[:16])
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.last[n]; ok && last == k {
		return nil
	}
	if l.f == nil {
		return errors.New("last-taken record is closed")
	}
	rec := append(n[:], k[:]...)
	if _, err := l.f.Write(rec); err != nil {
		l.cut()
		return fmt.Errorf("append last-taken record: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		l.cut()
		return fmt.Errorf("sync last-taken record: %w", err)
	}
	l.size += lastTakenRecord
	l.last[n] = k
	return nil
}

// cut truncates the file to its whole records, as SeenFile.cut does.
func (l *LastTaken) cut() {
	_ = l.f.Truncate(l.size)
	_, _ = l.f.Seek(l.size, io.SeekStart)
}

// Close releases the file; it is idempotent.
func (l *LastTaken) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
