package diskq

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-health/ferry/queue/seal"
)

// Encryption at rest (ARCHITECTURE invariant 5). With Options.Key set:
//
//   - a PUT record's body is a sealed blob (recPutSealed), aad = item ID,
//     so a body cannot be moved to another item's record unnoticed;
//   - a body file (bodies/, and the .body of a dead letter) is a sealed
//     stream with aad bodyAAD(item ID), so that two body files cannot be
//     swapped unnoticed (item A delivered with patient B's bundle). The
//     aad is the item's ID rather than the file's name because the same
//     bytes are linked between bodies/ and dead/ (dead-lettering, Retry,
//     which keeps the ID) and must stay readable under either name.
//     CreateBody writes before the item has an ID, so it names the file
//     b-<ULID> and seals it for that ULID, which Put then gives the item
//     (a caller-set ID gets a copy sealed for it). Files sealed by earlier
//     releases (seal stream version 1) carry the fixed aad v1BodyAAD and
//     still open; a version 2 file never opens under it. The PUT record
//     (recPutFileSealed) says that the file is sealed;
//   - a dead letter's JSON is a sealed stream, aad = its file name.
//
// Item metadata (ID, key, source, attrs) stays readable: replay, status
// and ordering need no key, and the pipeline keeps PHI out of them (keys
// are hashes). Data written before a key was configured stays readable;
// its records stay in the clear in their segment until the segment is
// deleted (when every item in it and before it is settled; the copy
// relocateOldest makes of one still waiting, so that the segment can go,
// is sealed), its body files until the item is settled (a Retry, or
// dead-lettering, seals a plaintext body file it keeps).
//
// A sealed record or file met without a key, or sealed with another key,
// is an operator problem, not damage: Get returns an error naming it
// (ErrNoKey or *seal.KeyMismatchError) and leaves the item in the queue,
// so configuring the right key delivers it. Only data that fails to
// verify under the right key is corrupt (dead-lettered as such).

// ErrNoKey is returned for sealed data when the queue has no key.
var ErrNoKey error = noKeyError{}

// noKeyError is ErrNoKey's type. ConfigProblem marks it as a failure only
// an operator can fix, which the dispatcher shows as such (status page
// "needs an operator") instead of only retrying.
type noKeyError struct{}

func (noKeyError) Error() string {
	return "item is encrypted, but no encryption key is configured (encryption.key_file)"
}

func (e noKeyError) ConfigProblem() string { return "data at rest: " + e.Error() }

// bodyAAD binds a sealed body file to its purpose and its item.
func bodyAAD(id string) []byte { return append([]byte("ferry diskq body\x00"), id...) }

// v1BodyAAD is the aad of body files sealed as seal stream version 1,
// before body files were bound to their item: accepted for those only.
var v1BodyAAD = []byte("ferry diskq body")

// bodyID is the ID a body file made by CreateBody is sealed for: its name
// without the "b-".
func bodyID(path string) string { return strings.TrimPrefix(filepath.Base(path), "b-") }

// isKeyError reports whether err is a missing or wrong key.
func isKeyError(err error) bool {
	var km *seal.KeyMismatchError
	return errors.Is(err, ErrNoKey) || errors.As(err, &km)
}

// asCorrupt maps seal's verdicts on data read from disk to diskq's:
// damage becomes errCorrupt, key problems stay as they are.
func asCorrupt(err error) error {
	if errors.Is(err, seal.ErrCorrupt) || errors.Is(err, seal.ErrNotSealed) {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return err
}

// BodyFile is a body file being written (see CreateBody): with a key
// every Write is sealed before it reaches the disk.
type BodyFile struct {
	f  *os.File
	sw *seal.Writer // nil without a key
}

var _ interface {
	io.Writer
	Close() error
	Name() string
} = (*BodyFile)(nil)

func newBodyFile(f *os.File, key *seal.Key) (*BodyFile, error) {
	b := &BodyFile{f: f}
	if key != nil {
		sw, err := key.NewWriter(f, bodyAAD(bodyID(f.Name())))
		if err != nil {
			return nil, err
		}
		b.sw = sw
	}
	return b, nil
}

// Write writes (seals) p into the file. On a full disk the error matches
// queue.ErrFull, so that the input is tried again later rather than taken
// for unconvertible.
func (b *BodyFile) Write(p []byte) (int, error) {
	var n int
	var err error
	if b.sw != nil {
		n, err = b.sw.Write(p)
	} else {
		n, err = b.f.Write(p)
	}
	return n, noSpace(err)
}

// Close finishes the sealed stream and closes the file. Put fsyncs it.
func (b *BodyFile) Close() error {
	var err error
	if b.sw != nil {
		err = b.sw.Close()
	}
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	return noSpace(err)
}

// Name is the file's path, for Item.BodyFile.
func (b *BodyFile) Name() string { return b.f.Name() }

// fileSealed reports whether the file at path starts like a sealed stream.
func fileSealed(path string) (bool, error) {
	h, err := fileHead(path)
	return seal.IsStream(h), err
}

// fileHead reads the start of the file at path (shorter when the file
// is), enough to tell a sealed stream and its version: a sealed file's
// plaintext size depends on it (seal.PlainSize).
func fileHead(path string) ([]byte, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := make([]byte, seal.StreamHeaderLen)
	n, err := io.ReadFull(f, h)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return h[:n], nil
}

// sealCopy writes a sealed copy (aad) of the plaintext file src to dst,
// fsynced; dst must not exist. The caller syncs dst's directory.
func sealCopy(key *seal.Key, src, dst string, aad []byte) error {
	in, err := openRead(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return sealFrom(key, in, dst, aad)
}

// sealFrom writes a sealed copy (aad) of what in reads to dst, fsynced.
func sealFrom(key *seal.Key, in io.Reader, dst string, aad []byte) (err error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	sw, err := key.NewWriter(out, aad)
	if err != nil {
		return err
	}
	if _, err := io.Copy(sw, bufio.NewReaderSize(in, seal.ChunkSize)); err != nil {
		return err
	}
	if err := sw.Close(); err != nil {
		return err
	}
	return out.Sync()
}

// openFile opens the body file of item id for reading its plaintext:
// decrypting when it is sealed (a key problem is returned as such, damage
// or a file sealed for another item as errCorrupt).
func openFile(key *seal.Key, path string, sealed bool, id string) (io.ReadCloser, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	if !sealed {
		return f, nil
	}
	if key == nil {
		f.Close()
		return nil, ErrNoKey
	}
	sr, err := key.NewReaderV1(f, bodyAAD(id), v1BodyAAD)
	if err != nil {
		f.Close()
		return nil, asCorrupt(err)
	}
	return &sealedFile{Reader: sr, f: f}, nil
}

type sealedFile struct {
	*seal.Reader
	f *os.File
}

func (s *sealedFile) Read(p []byte) (int, error) {
	n, err := s.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = asCorrupt(err)
	}
	return n, err
}

func (s *sealedFile) Close() error { return s.f.Close() }

// OpenBodyFile streams the plaintext of a body file made by a queue's
// CreateBody and not yet put (sealed with key for the ID its name gives,
// or plaintext when it was made without one) and returns its plaintext
// size, for code that keeps a copy of a spilled body elsewhere (the hold
// store). key may be nil for plaintext files.
func OpenBodyFile(path string, key *seal.Key) (io.ReadCloser, int64, error) {
	head, err := fileHead(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open body file: %w", err)
	}
	sealed := seal.IsStream(head)
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open body file: %w", err)
	}
	size := st.Size()
	if sealed {
		n, ok := seal.PlainSize(head, size)
		if !ok {
			return nil, 0, fmt.Errorf("open body file %s: %w: %d bytes is no sealed stream", path, errCorrupt, size)
		}
		size = n
	}
	rc, err := openFile(key, path, sealed, bodyID(path))
	if err != nil {
		return nil, 0, fmt.Errorf("open body file %s: %w", path, err)
	}
	return rc, size, nil
}

// keepSealed makes dst hold the body src of item id: a link (or copy)
// when src is already sealed (for id) or there is no key, else a sealed
// copy, so that with a key no plaintext body is written anew.
func keepSealed(key *seal.Key, src, dst, id string) error {
	if key != nil {
		sealed, err := fileSealed(src)
		if err != nil {
			return err
		}
		if !sealed {
			if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return sealCopy(key, src, dst, bodyAAD(id))
		}
	}
	return linkOrCopy(src, dst)
}
