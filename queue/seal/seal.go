// Package seal encrypts what ferry keeps on disk (ARCHITECTURE invariant 5:
// data at rest can be encrypted): queue records, spilled bundle bodies,
// dead letters, quarantined inputs and held bundles. A stolen disk, a
// backup copied off the machine or a decommissioned drive then holds no
// readable patient data; the key lives in one small file the operator
// keeps elsewhere (or protects with the OS), named by encryption.key_file.
//
// The cipher is AES-256-GCM from the standard library (FIPS 140-3
// approved). Two forms:
//
//   - a blob (Seal/Open) for bodies held in memory, such as a queue record:
//     magic 0xF5, version 1, key id (8 bytes), nonce (12 bytes, random),
//     then the GCM ciphertext and tag;
//   - a stream (NewWriter/NewReader) for files of any size: the header
//     "FERRYSEAL" 0x03, key id (8), salt (32, random), nonce prefix (7,
//     random), then chunks of up to ChunkSize plaintext bytes, each sealed
//     with the nonce prefix ‖ chunk counter (4 bytes, big endian) ‖
//     last-chunk flag (1), so chunks cannot be reordered, dropped or cut
//     off unnoticed (the STREAM construction of Hoang, Reyhanitabar,
//     Rogaway and Vizár), and with the whole header and the caller's aad
//     as associated data. The chunks are sealed under a key of the file's
//     own, HKDF-SHA256 (RFC 5869) of the configured key with the salt, and
//     with the header's magic, version and key id and the caller's aad as
//     info, as Tink's AES-GCM-HKDF streaming AEAD does: two files whose
//     random nonce prefixes collide (likely after some thousands of files
//     under one key, 7 bytes being few) then still never share a GCM key
//     and nonce. Earlier releases wrote versions 2 and 1, which still open:
//     the same without the salt, sealed under the configured key itself;
//     version 2 authenticates the header's magic, version and key id with
//     every chunk, version 1 the caller's aad only (see NewReaderV1).
//
// Both take associated data (aad) that binds the ciphertext to its place,
// e.g. the queue item id, so that one sealed body cannot be swapped for
// another. A wrong key is reported as such (KeyMismatchError names both
// key ids), not as corruption.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-health/ferry/config/configtext"
	"github.com/ferry-health/ferry/queue/durable"
)

// KeySize is the size of the raw key: AES-256.
const KeySize = 32

// ChunkSize is the plaintext size of one stream chunk.
const ChunkSize = 64 << 10

const (
	blobMagic   = 0xF5
	blobVersion = 1
	idLen       = 8
	nonceLen    = 12
	tagLen      = 16
	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = 2 + idLen + nonceLen + tagLen

	streamMagic   = "FERRYSEAL"
	streamVersion = 3
	streamV2      = 2
	streamV1      = 1
	saltLen       = 32
	prefixLen     = 7
	// streamHeadLen is the start all versions share: magic, version, key id.
	streamHeadLen = len(streamMagic) + 1 + idLen
	v2HeaderLen   = streamHeadLen + prefixLen // versions 1 and 2
	v3HeaderLen   = streamHeadLen + saltLen + prefixLen
)

var (
	// ErrCorrupt means the data is not what was sealed: damaged, cut
	// short, reordered or tampered with (the GCM tag does not verify).
	ErrCorrupt = errors.New("sealed data is damaged or was altered")
	// ErrNotSealed means the data does not start like sealed data.
	ErrNotSealed = errors.New("data is not sealed")
)

// KeyMismatchError reports data sealed with another key than the one
// configured (and than any previous key configured with it).
type KeyMismatchError struct {
	Data, Configured string   // key ids
	Previous         []string // ids of the previous keys (Key.WithPrevious)
}

func (e *KeyMismatchError) Error() string {
	if len(e.Previous) > 0 {
		return fmt.Sprintf("sealed with key %s, but the configured key is %s (encryption.key_file) and the previous keys are %s (encryption.previous_key_files)",
			e.Data, e.Configured, strings.Join(e.Previous, ", "))
	}
	return fmt.Sprintf("sealed with key %s, but the configured key is %s (encryption.key_file)", e.Data, e.Configured)
}

// ConfigProblem marks the error as one only an operator can fix (the
// dispatcher reports it as "needs an operator").
func (e *KeyMismatchError) ConfigProblem() string { return "data at rest " + e.Error() }

// Key is an AES-256-GCM key. Its String never shows key material.
type Key struct {
	id   [idLen]byte
	raw  []byte // HKDF secret of version 3 streams' file keys
	aead cipher.AEAD
	mask [32]byte // HMAC key of Pseudonym, derived from the raw key
	prev []*Key   // read-only keys (WithPrevious)
}

// WithPrevious returns k with read-only previous keys: data sealed with
// any of them still opens, while everything new is sealed with k (key
// rotation: encryption.previous_key_files). Pseudonym stays k's.
func (k *Key) WithPrevious(prev ...*Key) *Key {
	c := *k
	c.prev = nil
	for _, p := range prev {
		if p != nil && c.find(p.id[:]) == nil {
			c.prev = append(c.prev, &Key{id: p.id, raw: p.raw, aead: p.aead, mask: p.mask})
		}
	}
	return &c
}

// PreviousIDs names the previous keys (WithPrevious).
func (k *Key) PreviousIDs() []string {
	var ids []string
	for _, p := range k.prev {
		ids = append(ids, p.ID())
	}
	return ids
}

// Knows reports whether data sealed with the key named id opens with k
// (k itself or one of its previous keys).
func (k *Key) Knows(id string) bool {
	raw, err := hex.DecodeString(id)
	return err == nil && k.find(raw) != nil
}

// find returns the key (k or a previous one) whose id is id, or nil.
func (k *Key) find(id []byte) *Key {
	if bytes.Equal(id, k.id[:]) {
		return k
	}
	for _, p := range k.prev {
		if bytes.Equal(id, p.id[:]) {
			return p
		}
	}
	return nil
}

func (k *Key) mismatch(id []byte) error {
	return &KeyMismatchError{Data: hex.EncodeToString(id), Configured: k.ID(), Previous: k.PreviousIDs()}
}

// KeyIDOf returns the id of the key that sealed b, a Seal blob or the
// start of a sealed stream (at least StreamHeaderLen bytes), and false
// when b is neither. It reads the header only: it says nothing about
// whether the rest verifies.
func KeyIDOf(b []byte) (string, bool) {
	switch {
	case IsStream(b) && len(b) >= streamHeadLen:
		return hex.EncodeToString(b[len(streamMagic)+1 : streamHeadLen]), true
	case IsBlob(b) && len(b) >= 2+idLen:
		return hex.EncodeToString(b[2 : 2+idLen]), true
	}
	return "", false
}

// NewKey makes a Key from KeySize raw bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &Key{raw: bytes.Clone(raw), aead: aead}
	sum := sha256.Sum256(append([]byte("ferry seal key id\x00"), raw...))
	copy(k.id[:], sum[:])
	k.mask = sha256.Sum256(append([]byte("ferry pseudonym key\x00"), raw...))
	return k, nil
}

// Pseudonym returns a keyed one-way function of s, 32 hex digits: the
// same s always gives the same pseudonym under the same key, and without
// the key nobody can tell which s it came from, not even by trying every
// candidate. ferry applies it to the patient key (a plain hash of the
// patient's identifier, which anyone could recompute from a list of
// chart numbers) wherever that key is stored or sent in clear beside data
// this Key seals: queue record headers, dead letters, audit events.
func (k *Key) Pseudonym(s string) string {
	m := hmac.New(sha256.New, k.mask[:])
	m.Write([]byte(s))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:16])
}

// PreviousPseudonyms returns s's pseudonyms under k's previous keys
// (WithPrevious), oldest configured last: what Pseudonym gave before a key
// rotation, for a record that must still match data keyed then.
func (k *Key) PreviousPseudonyms(s string) []string {
	var out []string
	for _, p := range k.prev {
		out = append(out, p.Pseudonym(s))
	}
	return out
}

// LoadKey reads a key file: the key as standard base64 on one line (as
// GenerateKeyFile writes it). On Unix a file readable by group or others
// is refused: the key protects every patient record ferry holds.
func LoadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("key file %s is a folder; want the key file in it (ferry keygen FILE writes one)", path)
	}
	if err := checkKeyFileMode(f); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	// As Windows may have saved it when the key was put back from its copy.
	text, err := configtext.UTF8(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		return nil, fmt.Errorf("key file %s: not base64: %w", path, err)
	}
	k, err := NewKey(raw)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// GenerateKeyFile writes a new random key to path (mode 0600), refusing
// to overwrite an existing file: losing a key makes everything sealed
// with it unreadable.
func GenerateKeyFile(path string) (*Key, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	_, err = fmt.Fprintln(f, base64.StdEncoding.EncodeToString(raw))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The file's name must be on disk too before anything is sealed
		// with the key: a power cut could otherwise keep the sealed data
		// and lose the only key that opens it.
		err = durable.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write key file: %w", err)
	}
	return NewKey(raw)
}

// ID names the key without revealing it (a hash prefix), for status
// pages and error messages.
func (k *Key) ID() string { return hex.EncodeToString(k.id[:]) }

// String implements fmt.Stringer without key material.
func (k *Key) String() string { return "seal.Key(" + k.ID() + ")" }

// GoString is String: %#v must not print the key material either.
func (k *Key) GoString() string { return k.String() }

// Seal appends the sealed form of plaintext to dst and returns it.
func (k *Key) Seal(dst, plaintext, aad []byte) []byte {
	start := len(dst)
	dst = append(dst, blobMagic, blobVersion)
	dst = append(dst, k.id[:]...)
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic("seal: no randomness: " + err.Error())
	}
	dst = append(dst, nonce[:]...)
	return k.aead.Seal(dst, nonce[:], plaintext, k.blobAAD(dst[start:start+2+idLen], aad))
}

// Open appends the plaintext of a blob made by Seal to dst.
func (k *Key) Open(dst, blob, aad []byte) ([]byte, error) {
	if !IsBlob(blob) {
		return nil, ErrNotSealed
	}
	if len(blob) < Overhead {
		return nil, ErrCorrupt
	}
	if blob[1] != blobVersion {
		return nil, fmt.Errorf("sealed blob version %d: %w", blob[1], ErrCorrupt)
	}
	kk := k.find(blob[2 : 2+idLen])
	if kk == nil {
		return nil, k.mismatch(blob[2 : 2+idLen])
	}
	nonce := blob[2+idLen : 2+idLen+nonceLen]
	out, err := kk.aead.Open(dst, nonce, blob[2+idLen+nonceLen:], k.blobAAD(blob[:2+idLen], aad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return out, nil
}

// blobAAD binds the header (version, key id) and the caller's aad.
func (k *Key) blobAAD(header, aad []byte) []byte {
	b := make([]byte, 0, len(header)+len(aad))
	return append(append(b, header...), aad...)
}

// IsBlob reports whether b starts like a Seal blob.
func IsBlob(b []byte) bool { return len(b) >= 2 && b[0] == blobMagic }

// IsStream reports whether b (the first bytes of a file) starts like a
// sealed stream.
func IsStream(b []byte) bool { return bytes.HasPrefix(b, []byte(streamMagic)) }

// StreamHeaderLen is how many bytes a reader needs to tell a sealed stream
// (IsStream) from plaintext, and to learn its key id (KeyIDOf) and version
// (PlainSize): the start of the header that all versions share.
const StreamHeaderLen = streamHeadLen

// SealedSize is the size of a stream holding n plaintext bytes, as
// NewWriter writes it.
func SealedSize(n int64) int64 {
	chunks := n / ChunkSize
	if n%ChunkSize != 0 || n == 0 {
		chunks++
	}
	return int64(v3HeaderLen) + n + chunks*tagLen
}

// streamHeaderLen is the header length of a stream of version v, 0 for a
// version this package does not know.
func streamHeaderLen(v byte) int {
	switch v {
	case streamVersion:
		return v3HeaderLen
	case streamV2, streamV1:
		return v2HeaderLen
	}
	return 0
}

// PlainSize is the inverse of SealedSize for a stream of any version: the
// plaintext size of a stream of sealed bytes that starts with head (at
// least StreamHeaderLen bytes: the header length depends on the version,
// and files of earlier releases have shorter headers), and false when no
// stream has that size (the file was cut short or grown) or head is not
// that of a stream. It lets a reader announce a Content-Length without
// reading the stream.
func PlainSize(head []byte, sealed int64) (int64, bool) {
	if !IsStream(head) || len(head) <= len(streamMagic) {
		return 0, false
	}
	hl := streamHeaderLen(head[len(streamMagic)])
	if hl == 0 {
		return 0, false
	}
	s := sealed - int64(hl)
	if s < tagLen {
		return 0, false
	}
	full, rem := s/(ChunkSize+tagLen), s%(ChunkSize+tagLen)
	switch {
	case rem == 0:
		return full * ChunkSize, true
	case full == 0:
		return rem - tagLen, true
	case rem <= tagLen:
		// A last chunk is never empty unless it is the only one.
		return 0, false
	}
	return full*ChunkSize + rem - tagLen, true
}

// Writer seals a stream. Close writes the last chunk and must be called;
// it does not close the underlying writer.
type Writer struct {
	aead   cipher.AEAD // the stream's own key
	w      io.Writer
	aad    []byte
	prefix [prefixLen]byte
	n      uint32
	buf    []byte
	out    []byte
	err    error
	closed bool
}

// NewWriter starts a sealed stream on w, writing its header at once.
func (k *Key) NewWriter(w io.Writer, aad []byte) (*Writer, error) {
	var salt [saltLen]byte
	var prefix [prefixLen]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(prefix[:]); err != nil {
		return nil, err
	}
	return k.newWriter(w, aad, salt, prefix)
}

// newWriter is NewWriter with the salt and nonce prefix given (tests
// force them).
func (k *Key) newWriter(w io.Writer, aad []byte, salt [saltLen]byte, prefix [prefixLen]byte) (*Writer, error) {
	h := make([]byte, 0, v3HeaderLen)
	h = append(h, streamMagic...)
	h = append(h, streamVersion)
	h = append(h, k.id[:]...)
	h = append(h, salt[:]...)
	h = append(h, prefix[:]...)
	aead, err := k.fileAEAD(h, aad)
	if err != nil {
		return nil, err
	}
	sw := &Writer{aead: aead, w: w, prefix: prefix, buf: make([]byte, 0, ChunkSize)}
	sw.aad = append(bytes.Clone(h), aad...)
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return sw, nil
}

// fileAEAD is the cipher of the version 3 stream with header h (complete)
// and the caller's aad: AES-256-GCM under HKDF-SHA256 of the key, salted
// with the header's salt, with its magic, version and key id and aad as
// info, so that a file's key depends on everything that names the file.
func (k *Key) fileAEAD(h, aad []byte) (cipher.AEAD, error) {
	info := make([]byte, 0, streamHeadLen+len(aad))
	info = append(append(info, h[:streamHeadLen]...), aad...)
	fk, err := hkdf.Key(sha256.New, k.raw, h[streamHeadLen:streamHeadLen+saltLen], string(info), KeySize)
	if err != nil {
		return nil, fmt.Errorf("seal: derive the file key: %w", err)
	}
	block, err := aes.NewCipher(fk)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Write seals p, a chunk at a time.
func (sw *Writer) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	if sw.closed {
		return 0, errors.New("seal: write after close")
	}
	n := 0
	for len(p) > 0 {
		if len(sw.buf) == ChunkSize {
			// Only now is it known that this chunk is not the last.
			if err := sw.flush(false); err != nil {
				return n, err
			}
		}
		c := min(len(p), ChunkSize-len(sw.buf))
		sw.buf = append(sw.buf, p[:c]...)
		p = p[c:]
		n += c
	}
	return n, nil
}

// Close seals the last chunk (possibly empty).
func (sw *Writer) Close() error {
	if sw.closed {
		return sw.err
	}
	sw.closed = true
	if sw.err != nil {
		return sw.err
	}
	return sw.flush(true)
}

func (sw *Writer) flush(last bool) error {
	nonce := chunkNonce(sw.prefix, sw.n, last)
	sw.out = sw.aead.Seal(sw.out[:0], nonce[:], sw.buf, sw.aad)
	if _, err := sw.w.Write(sw.out); err != nil {
		sw.err = err
		return err
	}
	sw.n++
	if sw.n == 0 {
		sw.err = errors.New("seal: stream too long")
		return sw.err
	}
	sw.buf = sw.buf[:0]
	return nil
}

func chunkNonce(prefix [prefixLen]byte, n uint32, last bool) [nonceLen]byte {
	var nonce [nonceLen]byte
	copy(nonce[:], prefix[:])
	binary.BigEndian.PutUint32(nonce[prefixLen:], n)
	if last {
		nonce[nonceLen-1] = 1
	}
	return nonce
}

// Reader opens a sealed stream, verifying every chunk before it returns
// a byte of it, and that the stream ends with its last chunk.
type Reader struct {
	aead   cipher.AEAD
	r      io.Reader
	aad    []byte
	prefix [prefixLen]byte
	n      uint32
	in     []byte // one sealed chunk plus one byte, to see whether more follows
	have   int
	plain  []byte
	off    int
	done   bool
	err    error
}

// streamAAD is the aad of a version 2 stream's chunks: the header's magic,
// version and key id, then the caller's aad. A stream cannot then be
// relabelled as version 1 and opened under a version 1 aad.
func streamAAD(head, aad []byte) []byte {
	b := make([]byte, 0, streamHeadLen+len(aad))
	return append(append(b, head[:streamHeadLen]...), aad...)
}

// NewReader reads the header of a sealed stream from r. Streams of any
// version are opened with aad.
func (k *Key) NewReader(r io.Reader, aad []byte) (*Reader, error) {
	return k.NewReaderV1(r, aad, aad)
}

// NewReaderV1 is NewReader for data whose aad changed with stream version
// 2: a version 1 stream is opened with v1AAD, later versions with aad
// only. Since the chunks of later versions authenticate their header (and
// version 3 chunks are sealed under a key derived from it), such a stream
// whose version byte is changed fails, under v1AAD too.
func (k *Key) NewReaderV1(r io.Reader, aad, v1AAD []byte) (*Reader, error) {
	h := make([]byte, v3HeaderLen)
	if n, err := io.ReadFull(r, h[:streamHeadLen]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if IsStream(h[:n]) {
				// The magic is there: a sealed stream cut short.
				return nil, fmt.Errorf("sealed stream header cut short: %w", ErrCorrupt)
			}
			return nil, ErrNotSealed
		}
		return nil, err
	}
	if !IsStream(h) {
		return nil, ErrNotSealed
	}
	v := h[len(streamMagic)]
	hl := streamHeaderLen(v)
	if hl == 0 {
		return nil, fmt.Errorf("sealed stream version %d: %w", v, ErrCorrupt)
	}
	h = h[:hl]
	if _, err := io.ReadFull(r, h[streamHeadLen:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("sealed stream header cut short: %w", ErrCorrupt)
		}
		return nil, err
	}
	id := h[len(streamMagic)+1 : streamHeadLen]
	kk := k.find(id)
	if kk == nil {
		return nil, k.mismatch(id)
	}
	sr := &Reader{aead: kk.aead, r: r, in: make([]byte, ChunkSize+tagLen+1)}
	switch v {
	case streamV1:
		sr.aad = append([]byte(nil), v1AAD...)
	case streamV2:
		sr.aad = streamAAD(h, aad)
	default:
		aead, err := kk.fileAEAD(h, aad)
		if err != nil {
			return nil, err
		}
		sr.aead, sr.aad = aead, append(bytes.Clone(h), aad...)
	}
	copy(sr.prefix[:], h[hl-prefixLen:])
	return sr, nil
}

// Read returns verified plaintext.
func (sr *Reader) Read(p []byte) (int, error) {
	for sr.off == len(sr.plain) {
		if sr.err != nil {
			return 0, sr.err
		}
		if sr.done {
			return 0, io.EOF
		}
		sr.next()
	}
	n := copy(p, sr.plain[sr.off:])
	sr.off += n
	return n, nil
}

// next reads and opens one chunk. A chunk is the last one when the
// stream ends right after it; the nonce flag then must say so.
func (sr *Reader) next() {
	full := ChunkSize + tagLen
	for sr.have < full+1 {
		m, err := sr.r.Read(sr.in[sr.have:])
		sr.have += m
		if err == io.EOF {
			break
		}
		if err != nil {
			sr.err = err
			return
		}
	}
	chunk := sr.have
	last := true
	if sr.have > full {
		chunk, last = full, false
	}
	if chunk < tagLen {
		sr.err = fmt.Errorf("sealed stream cut short: %w", ErrCorrupt)
		return
	}
	nonce := chunkNonce(sr.prefix, sr.n, last)
	plain, err := sr.aead.Open(sr.plain[:0], nonce[:], sr.in[:chunk], sr.aad)
	if err != nil {
		sr.err = ErrCorrupt
		return
	}
	sr.plain, sr.off = plain, 0
	sr.n++
	copy(sr.in, sr.in[chunk:sr.have])
	sr.have -= chunk
	sr.done = last
}
