package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// ErrNoKey reports an entry sealed at rest (encryption.key_file) read by a
// store that has no key: the configuration lost its encryption section or
// the command was run with another configuration.
var ErrNoKey = errors.New("it is encrypted but no key is configured (set encryption.key_file to the key it was written with)")

// remakeDir makes a store's folder (the quarantine's, the held store's)
// again when it is gone: removed by hand while the gateway runs, it would
// otherwise fail every entry until a restart. Only the folder itself is
// made, never its parent (the data folder, which may be a volume not
// mounted), and its entry is fsynced in the parent.
func remakeDir(dir string) error {
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil // there, or a problem that writing the entry reports
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("make the removed folder %s again: %w", dir, err)
	}
	if err := durable.SyncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("make the removed folder %s again: %w", dir, err)
	}
	return nil
}

// writeEntry writes the entry file path durably (temporary file, fsync,
// rename, directory fsync). With a key the file is a sealed stream bound to
// aad, so that one entry's file cannot be passed off as another's.
func writeEntry(path string, key *seal.Key, aad string, write func(w io.Writer) error) error {
	p, err := durable.Create(path, 0o600)
	if err != nil {
		return err
	}
	defer p.Abort()
	var w io.Writer = p
	var sw *seal.Writer
	if key != nil {
		if sw, err = key.NewWriter(p, []byte(aad)); err != nil {
			return fmt.Errorf("seal %s: %w", p.Name(), err)
		}
		w = sw
	}
	if err := write(w); err != nil {
		return err
	}
	if sw != nil {
		if err := sw.Close(); err != nil {
			return fmt.Errorf("seal %s: %w", p.Name(), err)
		}
	}
	return p.Commit()
}

// openEntry opens an entry file for reading: a sealed one through key
// (checked chunk by chunk), a plaintext one (written before encryption
// was turned on) as it is. It returns the file to close.
func openEntry(path string, key *seal.Key, aad string) (io.Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(f)
	head, err := br.Peek(seal.StreamHeaderLen)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, nil, err
	}
	if !seal.IsStream(head) {
		return br, f, nil
	}
	if key == nil {
		f.Close()
		return nil, nil, ErrNoKey
	}
	sr, err := key.NewReader(br, []byte(aad))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return sr, f, nil
}

// readEntryFile reads a whole entry file (see openEntry).
func readEntryFile(path string, key *seal.Key, aad string) ([]byte, error) {
	r, f, err := openEntry(path, key, aad)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(r)
}

// readCloser joins a reader and the file under it.
type readCloser struct {
	io.Reader
	io.Closer
}
