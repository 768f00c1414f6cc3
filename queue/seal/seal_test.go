package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func testKey(t *testing.T) *Key {
	t.Helper()
	k, err := GenerateKeyFile(filepath.Join(t.TempDir(), "ferry.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBlobRoundTripAndTamper(t *testing.T) {
	k := testKey(t)
	msg := []byte(`{"resourceType":"Patient","name":[{"family":"DOE"}]}`)
	blob := k.Seal([]byte("prefix"), msg, []byte("item-1"))
	blob = blob[len("prefix"):]
	if len(blob) != len(msg)+Overhead || !IsBlob(blob) {
		t.Fatalf("blob of %d bytes for %d", len(blob), len(msg))
	}
	if bytes.Contains(blob, []byte(`"family"`)) { // a 3-byte marker would turn up by chance
		t.Fatal("plaintext visible in the blob")
	}
	got, err := k.Open(nil, blob, []byte("item-1"))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(nil, blob, []byte("item-2")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("other aad: %v, want ErrCorrupt", err)
	}
	for _, i := range []int{1, 5, 15, len(blob) - 1} {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x40
		if _, err := k.Open(nil, bad, []byte("item-1")); err == nil {
			t.Fatalf("byte %d flipped: opened", i)
		}
	}
	other := testKey(t)
	var km *KeyMismatchError
	if _, err := other.Open(nil, blob, []byte("item-1")); !errors.As(err, &km) || km.Data != k.ID() || km.Configured != other.ID() {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := k.Open(nil, msg, nil); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("plaintext: %v", err)
	}
}

func TestStreamRoundTrip(t *testing.T) {
	k := testKey(t)
	for _, n := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 5} {
		plain := make([]byte, n)
		rand.Read(plain)
		var buf bytes.Buffer
		w, err := k.NewWriter(&buf, []byte("body-7"))
		if err != nil {
			t.Fatal(err)
		}
		// Odd write sizes cross chunk boundaries.
		for rest := plain; len(rest) > 0; {
			c := min(len(rest), 1000+len(rest)%7919)
			if _, err := w.Write(rest[:c]); err != nil {
				t.Fatal(err)
			}
			rest = rest[c:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if int64(buf.Len()) != SealedSize(int64(n)) {
			t.Fatalf("n=%d: stream %d bytes, SealedSize %d", n, buf.Len(), SealedSize(int64(n)))
		}
		if !IsStream(buf.Bytes()) {
			t.Fatal("IsStream = false")
		}
		r, err := k.NewReader(bytes.NewReader(buf.Bytes()), []byte("body-7"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("n=%d: read back %d bytes, %v", n, len(got), err)
		}
	}
}

func TestStreamDetectsTruncationReorderAndTamper(t *testing.T) {
	k := testKey(t)
	plain := make([]byte, 3*ChunkSize+100)
	rand.Read(plain)
	var buf bytes.Buffer
	w, _ := k.NewWriter(&buf, nil)
	w.Write(plain)
	w.Close()
	sealed := buf.Bytes()
	chunk := ChunkSize + tagLen
	read := func(b []byte) error {
		r, err := k.NewReader(bytes.NewReader(b), nil)
		if err != nil {
			return err
		}
		_, err = io.ReadAll(r)
		return err
	}
	cases := map[string][]byte{
		"cut at a chunk boundary": sealed[:v3HeaderLen+2*chunk],
		"cut inside a chunk":      sealed[:len(sealed)-10],
		"last chunk dropped":      sealed[:v3HeaderLen+3*chunk],
		"chunks swapped": append(append(append(bytes.Clone(sealed[:v3HeaderLen]),
			sealed[v3HeaderLen+chunk:v3HeaderLen+2*chunk]...), sealed[v3HeaderLen:v3HeaderLen+chunk]...),
			sealed[v3HeaderLen+2*chunk:]...),
		"byte flipped": func() []byte { b := bytes.Clone(sealed); b[v3HeaderLen+chunk+7] ^= 1; return b }(),
		"extra bytes":  append(bytes.Clone(sealed), 0),
	}
	for name, b := range cases {
		if err := read(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if err := read([]byte(`{"resourceType":"Bundle"}`)); !errors.Is(err, ErrNotSealed) {
		t.Errorf("plaintext file: %v", err)
	}
	var km *KeyMismatchError
	if _, err := testKey(t).NewReader(bytes.NewReader(sealed), nil); !errors.As(err, &km) {
		t.Errorf("wrong key: %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.key")
	k, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKeyFile(path); err == nil {
		t.Fatal("an existing key file was overwritten")
	}
	k2, err := LoadKey(path)
	if err != nil || k2.ID() != k.ID() {
		t.Fatalf("LoadKey: %v, %v", k2, err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(k.String(), strings.TrimSpace(string(raw))) || !strings.Contains(k.String(), k.ID()) {
		t.Fatalf("String() = %q", k.String())
	}
	if runtime.GOOS != "windows" {
		os.Chmod(path, 0o644)
		if _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("world-readable key file: %v", err)
		}
	}
	os.WriteFile(filepath.Join(dir, "short.key"), []byte("c2hvcnQ=\n"), 0o600)
	if _, err := LoadKey(filepath.Join(dir, "short.key")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func BenchmarkSeal10KB(b *testing.B) {
	k, _ := NewKey(make([]byte, KeySize))
	plain := make([]byte, 10<<10)
	var dst []byte
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		dst = k.Seal(dst[:0], plain, []byte("id"))
	}
}

func TestPlainSizeInvertsSealedSize(t *testing.T) {
	k, raw := rawKey(t)
	for _, n := range []int64{0, 1, 100, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2 * ChunkSize, 3*ChunkSize + 17} {
		s := SealedSize(n)
		var buf bytes.Buffer
		w, err := k.NewWriter(&buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(make([]byte, n))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if int64(buf.Len()) != s {
			t.Errorf("stream of %d bytes is %d sealed, SealedSize says %d", n, buf.Len(), s)
		}
		// Files of earlier releases (shorter headers) are sized by their
		// own version.
		streams := map[string][]byte{
			"v3": buf.Bytes(),
			"v2": sealOld(t, raw, 2, make([]byte, n), nil),
			"v1": sealOld(t, raw, 1, make([]byte, n), nil),
		}
		for name, b := range streams {
			got, ok := PlainSize(b[:StreamHeaderLen], int64(len(b)))
			if !ok || got != n {
				t.Errorf("%s: PlainSize of a %d-byte stream of %d = %d, %v", name, len(b), n, got, ok)
			}
		}
	}
	head := []byte("FERRYSEAL\x03")
	for _, s := range []int64{0, int64(v3HeaderLen), int64(v3HeaderLen) + tagLen - 1, SealedSize(ChunkSize) + 1, SealedSize(ChunkSize) + tagLen} {
		if n, ok := PlainSize(head, s); ok {
			t.Errorf("PlainSize(%d) = %d, want no stream of that size", s, n)
		}
	}
	for _, h := range []string{"FERRYSEAL\x04", "FERRYSEAL", `{"resourceType"`} {
		if n, ok := PlainSize([]byte(h), SealedSize(100)); ok {
			t.Errorf("PlainSize(%q) = %d, want no stream", h, n)
		}
	}
}

// TestPseudonym: a keyed one-way function, stable under one key, another
// under another key, and not the plain hash anyone could recompute.
func TestPseudonym(t *testing.T) {
	raw := make([]byte, KeySize)
	k1, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	raw[0] = 1
	k2, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	const pk = "5e884898da28047151d0e56f8dc62927"
	a, b := k1.Pseudonym(pk), k1.Pseudonym(pk)
	if a != b || len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("pseudonyms %q, %q: want the same 32 hex digits", a, b)
	}
	if a == pk || a == k1.Pseudonym(pk+"x") || a == k2.Pseudonym(pk) {
		t.Fatalf("pseudonym %q does not depend on both the input and the key", a)
	}
	if strings.Contains(k1.String(), a) {
		t.Fatal("the key's printed form gives the pseudonym away")
	}
}

// rawKey makes a key from random raw bytes and returns both.
func rawKey(t *testing.T) (*Key, []byte) {
	t.Helper()
	raw := make([]byte, KeySize)
	rand.Read(raw)
	k, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k, raw
}

// sealOld writes plain as a stream of version 1 or 2, as earlier releases
// did, implemented here from the format (not through this package's
// writer) so that the test pins it: header "FERRYSEAL", version, key id,
// nonce prefix (7); chunks sealed with the raw key itself, version 1 with
// aad only, version 2 with the header's magic, version and key id before
// aad.
func sealOld(t *testing.T, raw []byte, version byte, plain, aad []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(raw)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(append([]byte("ferry seal key id\x00"), raw...))
	out := append([]byte("FERRYSEAL"), version)
	out = append(out, id[:8]...)
	if version == 2 {
		aad = append(bytes.Clone(out), aad...)
	}
	var prefix [7]byte
	rand.Read(prefix[:])
	out = append(out, prefix[:]...)
	for n := uint32(0); ; n++ {
		c := min(len(plain), ChunkSize)
		last := c == len(plain)
		var nonce [12]byte
		copy(nonce[:], prefix[:])
		binary.BigEndian.PutUint32(nonce[7:], n)
		if last {
			nonce[11] = 1
		}
		out = gcm.Seal(out, nonce[:], plain[:c], aad)
		plain = plain[c:]
		if last {
			return out
		}
	}
}

// TestStreamVersions: a version 1 stream opens with NewReaderV1's v1AAD
// (and with NewReader's aad when that did not change); version 2 streams
// of earlier releases and version 3 streams only with their own aad, even
// when their version byte is set to 1.
func TestStreamVersions(t *testing.T) {
	k, raw := rawKey(t)
	plain := bytes.Repeat([]byte("0123456789"), 10000)
	read := func(b []byte, aad, v1 []byte) ([]byte, error) {
		r, err := k.NewReaderV1(bytes.NewReader(b), aad, v1)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	old := sealOld(t, raw, 1, plain, []byte("old"))
	if got, err := read(old, []byte("new"), []byte("old")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("v1 stream under v1AAD: %v", err)
	}
	if _, err := read(old, []byte("new"), []byte("other")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("v1 stream under another v1AAD: %v", err)
	}
	if r, err := k.NewReader(bytes.NewReader(old), []byte("old")); err != nil {
		t.Fatal(err)
	} else if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("v1 stream through NewReader: %v", err)
	}

	var cur bytes.Buffer
	sw, err := k.NewWriter(&cur, []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	sw.Write(plain)
	sw.Close()
	if v := cur.Bytes()[len(streamMagic)]; v != 3 {
		t.Fatalf("new stream has version %d, want 3", v)
	}
	v2 := sealOld(t, raw, 2, plain, []byte("new"))
	for name, b := range map[string][]byte{"v2": v2, "v3": cur.Bytes()} {
		if got, err := read(b, []byte("new"), []byte("old")); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%s stream: %v", name, err)
		}
		if _, err := read(b, []byte("old"), []byte("new")); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s stream under the v1 aad: %v", name, err)
		}
		relabelled := bytes.Clone(b)
		relabelled[len(streamMagic)] = streamV1
		for _, aad := range [][]byte{[]byte("new"), []byte("old")} {
			if got, err := read(relabelled, []byte("new"), aad); !errors.Is(err, ErrCorrupt) || len(got) > 0 {
				t.Fatalf("%s stream relabelled as v1, v1AAD %q: %d bytes, %v", name, aad, len(got), err)
			}
		}
	}
}

// TestStreamV3Format pins version 3 from the format, with the standard
// library's HKDF and GCM: header "FERRYSEAL" 3, key id, salt (32), nonce
// prefix (7); each chunk sealed under HKDF-SHA256(key, salt, magic ‖
// version ‖ key id ‖ aad) with the whole header and aad as its aad.
func TestStreamV3Format(t *testing.T) {
	k, raw := rawKey(t)
	plain := []byte(`{"resourceType":"Bundle"}`)
	var buf bytes.Buffer
	sw, err := k.NewWriter(&buf, []byte("item-9"))
	if err != nil {
		t.Fatal(err)
	}
	sw.Write(plain)
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	const headLen = 9 + 1 + 8 + 32 + 7
	if len(b) != headLen+len(plain)+16 || string(b[:10]) != "FERRYSEAL\x03" || hex.EncodeToString(b[10:18]) != k.ID() {
		t.Fatalf("stream %x", b)
	}
	salt, prefix := b[18:50], b[50:57]
	fileKey, err := hkdf.Key(sha256.New, raw, salt, string(b[:18])+"item-9", 32)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(fileKey)
	gcm, _ := cipher.NewGCM(block)
	nonce := append(bytes.Clone(prefix), 0, 0, 0, 0, 1)
	got, err := gcm.Open(nil, nonce, b[headLen:], append(bytes.Clone(b[:headLen]), "item-9"...))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("chunk under the derived key: %q, %v", got, err)
	}
}

// TestStreamPerFileKey: every stream is sealed under its own key, so two
// streams of one key whose random nonce prefixes happen to be equal (a
// birthday collision after a few thousand files) still share no GCM
// keystream: the same plaintext gives unrelated ciphertext.
func TestStreamPerFileKey(t *testing.T) {
	k := testKey(t)
	plain := bytes.Repeat([]byte("A"), ChunkSize+500)
	var prefix [prefixLen]byte
	rand.Read(prefix[:])
	write := func(salt [saltLen]byte) []byte {
		var buf bytes.Buffer
		sw, err := k.newWriter(&buf, []byte("same"), salt, prefix)
		if err != nil {
			t.Fatal(err)
		}
		sw.Write(plain)
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var s1, s2 [saltLen]byte
	rand.Read(s1[:])
	rand.Read(s2[:])
	a, a2, b := write(s1), write(s1), write(s2)
	if !bytes.Equal(a, a2) {
		t.Fatal("the test hook does not fix salt and prefix")
	}
	ca, cb := a[v3HeaderLen:], b[v3HeaderLen:]
	same := 0
	for i := range ca {
		if ca[i] == cb[i] {
			same++
		}
	}
	if len(ca) != len(cb) || same > len(ca)/64 {
		t.Fatalf("same plaintext and nonce prefix: %d of %d ciphertext bytes equal", same, len(ca))
	}
	for _, s := range [][]byte{a, b} {
		r, err := k.NewReader(bytes.NewReader(s), []byte("same"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("read back: %v", err)
		}
	}

	// Through NewWriter, every stream has a salt of its own.
	salts := map[string]bool{}
	for range 20 {
		var buf bytes.Buffer
		if _, err := k.NewWriter(&buf, nil); err != nil {
			t.Fatal(err)
		}
		salts[string(buf.Bytes()[18:50])] = true
	}
	if len(salts) != 20 {
		t.Fatalf("%d salts in 20 streams", len(salts))
	}
}

// TestStreamRelabelled: a version 3 stream whose header is changed (its
// version set to an earlier one, its salt, nonce prefix or key id changed)
// or cut short is refused as corrupt or as sealed with another key, and
// never yields a byte of plaintext.
func TestStreamRelabelled(t *testing.T) {
	k, other := testKey(t), testKey(t)
	rot := k.WithPrevious(other)
	plain := bytes.Repeat([]byte("PATIENT DOE "), 20000)
	var buf bytes.Buffer
	sw, err := k.NewWriter(&buf, []byte("id-1"))
	if err != nil {
		t.Fatal(err)
	}
	sw.Write(plain)
	sw.Close()
	sealed := buf.Bytes()
	edit := func(f func(b []byte)) []byte { b := bytes.Clone(sealed); f(b); return b }
	cases := map[string][]byte{
		"version 2":         edit(func(b []byte) { b[9] = 2 }),
		"version 1":         edit(func(b []byte) { b[9] = 1 }),
		"version 4":         edit(func(b []byte) { b[9] = 4 }),
		"salt changed":      edit(func(b []byte) { b[18+5] ^= 1 }),
		"last salt byte":    edit(func(b []byte) { b[49] ^= 0x80 }),
		"prefix changed":    edit(func(b []byte) { b[50] ^= 1 }),
		"key id of another": edit(func(b []byte) { copy(b[10:18], other.id[:]) }),
		"key id unknown":    edit(func(b []byte) { b[12] ^= 1 }),
		"header cut short":  sealed[:40],
		"cut after header":  sealed[:v3HeaderLen],
		"v2 header length":  append(edit(func(b []byte) { b[9] = 2 })[:25], sealed[v3HeaderLen:]...),
	}
	for name, b := range cases {
		for _, key := range []*Key{k, rot} {
			for _, v1AAD := range [][]byte{[]byte("id-1"), nil} {
				var got []byte
				r, err := key.NewReaderV1(bytes.NewReader(b), []byte("id-1"), v1AAD)
				if err == nil {
					got, err = io.ReadAll(r)
				}
				var km *KeyMismatchError
				if len(got) > 0 || !errors.Is(err, ErrCorrupt) && !errors.As(err, &km) {
					t.Errorf("%s (%s): %d bytes, %v; want ErrCorrupt or a key mismatch", name, key, len(got), err)
				}
			}
		}
	}
}

// TestPreviousKeys: after a rotation, data sealed with the old key opens
// through the new key's previous keys, new data is sealed with the new
// key only, and data of a key that is neither is refused naming all ids.
func TestPreviousKeys(t *testing.T) {
	old, cur, other := testKey(t), testKey(t), testKey(t)
	blob := old.Seal(nil, []byte("old blob"), []byte("id1"))
	var stream bytes.Buffer
	sw, err := old.NewWriter(&stream, []byte("id2"))
	if err != nil {
		t.Fatal(err)
	}
	sw.Write([]byte("old stream"))
	sw.Close()

	rot := cur.WithPrevious(old, nil, cur)
	if got := rot.PreviousIDs(); len(got) != 1 || got[0] != old.ID() {
		t.Fatalf("PreviousIDs %v", got)
	}
	if !rot.Knows(old.ID()) || !rot.Knows(cur.ID()) || rot.Knows(other.ID()) || cur.Knows(old.ID()) {
		t.Fatal("Knows")
	}
	if b, err := rot.Open(nil, blob, []byte("id1")); err != nil || string(b) != "old blob" {
		t.Fatalf("old blob: %q %v", b, err)
	}
	if _, err := rot.Open(nil, blob, []byte("id2")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("old blob, other aad: %v", err)
	}
	r, err := rot.NewReader(bytes.NewReader(stream.Bytes()), []byte("id2"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r); err != nil || string(b) != "old stream" {
		t.Fatalf("old stream: %q %v", b, err)
	}
	fresh := rot.Seal(nil, []byte("new"), nil)
	if id, ok := KeyIDOf(fresh); !ok || id != cur.ID() {
		t.Fatalf("new data sealed with %s, want %s", id, cur.ID())
	}
	if id, ok := KeyIDOf(stream.Bytes()[:StreamHeaderLen]); !ok || id != old.ID() {
		t.Fatalf("KeyIDOf stream: %s", id)
	}
	if _, ok := KeyIDOf([]byte(`{"plain":1}`)); ok {
		t.Fatal("KeyIDOf plaintext")
	}
	_, err = other.WithPrevious(cur).Open(nil, blob, []byte("id1"))
	var km *KeyMismatchError
	if !errors.As(err, &km) || km.Data != old.ID() || !strings.Contains(err.Error(), cur.ID()) || !strings.Contains(err.Error(), "previous_key_files") {
		t.Fatalf("foreign key: %v", err)
	}
	if strings.Contains(rot.String(), "prev") {
		t.Fatal(rot.String())
	}
}

// TestKeyFormatsHideMaterial: no fmt verb prints the key's bytes, %#v
// included (a Key keeps the raw key for the per-file keys of streams).
func TestKeyFormatsHideMaterial(t *testing.T) {
	raw := bytes.Repeat([]byte{0xAB}, KeySize)
	k, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171, 171") || strings.Contains(out, "0xab") {
			t.Errorf("%s of a Key shows key material: %s", verb, out)
		}
	}
}

// TestKeyFileIsAFolder: encryption.key_file naming a folder (/etc/ferry
// for /etc/ferry/ferry.key) was refused as "mode 0755 lets others read
// it; chmod 600", sending the administrator to lock up the configuration
// folder; it now says the path is a folder, not a key file.
func TestKeyFileIsAFolder(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	_, err := LoadKey(dir)
	if err == nil || strings.Contains(err.Error(), "chmod") || !strings.Contains(err.Error(), "is a folder") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("key file that is a folder: %v", err)
	}
}

// TestStreamCutInSharedHeader: a sealed stream cut short after its magic
// but before the end of the header start all versions share (its version
// and key id: a file cut at 9 to 17 bytes) was "data is not sealed",
// ErrNotSealed, as if it were plaintext: a quarantine entry so damaged was
// reported as "not sealed", and a dead letter so damaged was not told
// apart from one never sealed. Like a header cut later, it is ErrCorrupt.
func TestStreamCutInSharedHeader(t *testing.T) {
	k := testKey(t)
	var buf bytes.Buffer
	sw, err := k.NewWriter(&buf, []byte("id-1"))
	if err != nil {
		t.Fatal(err)
	}
	sw.Write([]byte("PATIENT DOE"))
	sw.Close()
	for n := len(streamMagic); n < streamHeadLen; n++ {
		_, err := k.NewReader(bytes.NewReader(buf.Bytes()[:n]), []byte("id-1"))
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotSealed) {
			t.Errorf("stream cut at %d bytes: %v, want ErrCorrupt", n, err)
		}
	}
	for _, b := range []string{"", "FERRY", "{}"} {
		if _, err := k.NewReader(strings.NewReader(b), nil); !errors.Is(err, ErrNotSealed) {
			t.Errorf("%q: %v, want ErrNotSealed", b, err)
		}
	}
}
