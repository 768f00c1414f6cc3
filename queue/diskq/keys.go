package diskq

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
)

// KeyUse counts what a queue holds sealed with one key.
type KeyUse struct {
	Items       int // unsettled items (record or body file sealed with it)
	DeadLetters int // dead letters (entry or body file sealed with it)
}

// SealedKeys returns, per key id, how many of the queue's unsettled items
// and dead letters are sealed with that key; plaintext data is not
// counted. It reads record and file headers only, so a gateway can check
// at start, before it takes input, that every key the queue needs is
// configured: input sealed with a wrong key would otherwise mix with data
// only the right key opens, and no single key would deliver the queue.
func (q *Queue) SealedKeys() (map[string]KeyUse, error) {
	q.mu.Lock()
	refs := make([]itemRef, 0, len(q.items))
	for _, m := range q.items {
		refs = append(refs, itemRef{f: m.seg.f, off: m.off, size: m.size, file: m.file()})
	}
	q.mu.Unlock()
	return sealedKeys(refs, q.bodiesDir(), q.dead.dir)
}

// InspectSealedKeys is SealedKeys for the queue in dir (dead letters in
// deadLetterDir, "" for the default) without opening it, beside a gateway
// that has it open (`ferry doctor`).
func InspectSealedKeys(dir, deadLetterDir string) (map[string]KeyUse, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("inspect queue keys: %w", err)
	}
	st, err := replay(dir, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return nil, fmt.Errorf("inspect queue keys %s: %w", dir, err)
	}
	defer st.close()
	ddir := deadDir(dir, deadLetterDir)
	dead, err := openDeadStore(ddir, false, nil)
	if err != nil {
		return nil, fmt.Errorf("inspect queue keys %s: %w", dir, err)
	}
	refs := make([]itemRef, 0, len(st.items))
	for seq, m := range st.items {
		if !dead.has(m.id, seq) {
			refs = append(refs, itemRef{f: m.seg.f, off: m.off, size: m.size, file: m.file()})
		}
	}
	return sealedKeys(refs, filepath.Join(dir, bodiesDirName), ddir)
}

// InspectDeadLetterAttrKeys counts, per key id, the dead letters of the
// queue in dir (in deadLetterDir, "" for the default; opened with key)
// whose attributes hold a value sealed with a key that sealed neither the
// dead letter nor its body file: attrKey names the key that sealed an
// item's attributes, false when none did. A dead letter keeps its item's
// attributes as they were queued, so an item queued before a key rotation
// and dead-lettered after it is sealed with the new key around a value
// only the old one opens. Dead letters this key cannot open are not
// counted (SealedKeys names their key).
func InspectDeadLetterAttrKeys(dir, deadLetterDir string, key *seal.Key, attrKey func(map[string]string) (string, bool)) (map[string]int, error) {
	d, err := openDeadStore(deadDir(dir, deadLetterDir), false, key)
	if err != nil {
		return nil, fmt.Errorf("inspect dead letters %s: %w", dir, err)
	}
	use := map[string]int{}
	for _, n := range d.byID {
		dl, err := d.read(n.file)
		if err != nil {
			continue // removed meanwhile, or not this key's: SealedKeys counts it
		}
		id, ok := attrKey(dl.Attrs)
		if !ok {
			continue
		}
		own := false
		for _, f := range []string{n.file, bodyFileOf(n.file)} {
			if fid, sealed := fileKeyID(filepath.Join(d.dir, f)); sealed && fid == id {
				own = true
			}
		}
		if !own {
			use[id]++
		}
	}
	return use, nil
}

// itemRef is where an item's record (and body file) is.
type itemRef struct {
	f         *os.File
	off, size int64
	file      string
}

func sealedKeys(refs []itemRef, bodies, dead string) (map[string]KeyUse, error) {
	use := map[string]KeyUse{}
	for _, r := range refs {
		id, ok, err := r.keyID(bodies)
		if err != nil {
			// Settled (and its segment or file removed) meanwhile, or
			// unreadable: Get reports the latter.
			continue
		}
		if ok {
			u := use[id]
			u.Items++
			use[id] = u
		}
	}
	ents, err := os.ReadDir(dead)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".json") {
			continue
		}
		ids := map[string]bool{}
		for _, f := range []string{n, bodyFileOf(n)} {
			if id, ok := fileKeyID(filepath.Join(dead, f)); ok {
				ids[id] = true
			}
		}
		for id := range ids {
			u := use[id]
			u.DeadLetters++
			use[id] = u
		}
	}
	return use, nil
}

// keyID reads the key id of the item's sealed body (record or file).
func (r itemRef) keyID(bodies string) (string, bool, error) {
	if r.file != "" {
		id, ok := fileKeyID(filepath.Join(bodies, r.file))
		return id, ok, nil
	}
	rec := make([]byte, r.size)
	if _, err := r.f.ReadAt(rec, r.off); err != nil {
		return "", false, err
	}
	if err := checkRecord(rec); err != nil || !isSealed(rec) {
		return "", false, err
	}
	it, _, _, _, err := decodePut(rec)
	if err != nil {
		return "", false, err
	}
	id, ok := seal.KeyIDOf(it.Body)
	return id, ok, nil
}

// fileKeyID reads the key id of a sealed file (false: plaintext, or no
// such file).
func fileKeyID(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	h := make([]byte, seal.StreamHeaderLen)
	n, _ := io.ReadFull(f, h)
	return seal.KeyIDOf(h[:n])
}

// PlainUse counts what a queue holds in clear that a key would seal
// (Options.Key): written before encryption at rest was turned on, it stays
// as it was (see encrypt.go).
type PlainUse struct {
	Records     int // PUT records whose body is in a segment in clear, settled or not (a segment keeps them until it is deleted)
	Bodies      int // body files in clear (bodies/)
	DeadLetters int // dead letters whose entry or body file is in clear
}

// InspectPlaintext counts what the queue in dir (dead letters in
// deadLetterDir, "" for the default) holds in clear, without opening it
// and beside a gateway that has it open (`ferry backup` of an encrypted
// data folder says what of it is not sealed). It reads record and file
// headers only.
func InspectPlaintext(dir, deadLetterDir string) (PlainUse, error) {
	var u PlainUse
	idxs, err := listSegments(dir)
	if err != nil {
		return u, fmt.Errorf("inspect queue %s: %w", dir, err)
	}
	discard := slog.New(slog.DiscardHandler)
	for i, idx := range idxs {
		f, err := openRead(filepath.Join(dir, segName(idx)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // settled and removed meanwhile
		}
		if err != nil {
			return u, fmt.Errorf("inspect queue %s: %w", dir, err)
		}
		// The newest may be written meanwhile: its end is taken as torn.
		_, err = scanSegment(f, segName(idx), discard, i == len(idxs)-1, func(_ int64, rec []byte) {
			if recType(rec) != recPut {
				return
			}
			if it, _, _, _, err := decodePut(rec); err == nil && len(it.Body) > 0 {
				u.Records++
			}
		})
		f.Close()
		if err != nil {
			return u, fmt.Errorf("inspect queue %s: %w", dir, err)
		}
	}
	plain := func(path string) bool {
		st, err := os.Stat(path)
		if err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
			return false
		}
		h, err := fileHead(path)
		return err == nil && !seal.IsStream(h)
	}
	ents, err := os.ReadDir(filepath.Join(dir, bodiesDirName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return u, fmt.Errorf("inspect queue %s: %w", dir, err)
	}
	for _, e := range ents {
		if !durable.IsTemp(e.Name()) && plain(filepath.Join(dir, bodiesDirName, e.Name())) {
			u.Bodies++
		}
	}
	ddir := deadDir(dir, deadLetterDir)
	if ents, err = os.ReadDir(ddir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return u, fmt.Errorf("inspect dead letters %s: %w", ddir, err)
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".json") || durable.IsTemp(n) {
			continue
		}
		if plain(filepath.Join(ddir, n)) || plain(filepath.Join(ddir, bodyFileOf(n))) {
			u.DeadLetters++
		}
	}
	return u, nil
}
