package folder

import (
	"bytes"
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
