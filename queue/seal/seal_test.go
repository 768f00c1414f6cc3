package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
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
	if bytes.Contains(blob, []byte("DOE")) {
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
		"cut at a chunk boundary": sealed[:streamHeaderLen+2*chunk],
		"cut inside a chunk":      sealed[:len(sealed)-10],
		"last chunk dropped":      sealed[:streamHeaderLen+3*chunk],
		"chunks swapped": append(append(append(bytes.Clone(sealed[:streamHeaderLen]),
			sealed[streamHeaderLen+chunk:streamHeaderLen+2*chunk]...), sealed[streamHeaderLen:streamHeaderLen+chunk]...),
			sealed[streamHeaderLen+2*chunk:]...),
		"byte flipped": func() []byte { b := bytes.Clone(sealed); b[streamHeaderLen+chunk+7] ^= 1; return b }(),
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
	k := testKey(t)
	for _, n := range []int64{0, 1, 100, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2 * ChunkSize, 3*ChunkSize + 17} {
		s := SealedSize(n)
		got, ok := PlainSize(s)
		if !ok || got != n {
			t.Errorf("PlainSize(SealedSize(%d)=%d) = %d, %v", n, s, got, ok)
		}
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
	}
	for _, s := range []int64{0, int64(StreamHeaderLen), int64(StreamHeaderLen) + tagLen - 1, SealedSize(ChunkSize) + 1, SealedSize(ChunkSize) + tagLen} {
		if n, ok := PlainSize(s); ok {
			t.Errorf("PlainSize(%d) = %d, want no stream of that size", s, n)
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

// newWriterV1 writes a version 1 stream, as releases before version 2
// did: the header is not authenticated, the chunks carry aad only.
func newWriterV1(t *testing.T, k *Key, w io.Writer, aad []byte) *Writer {
	t.Helper()
	var head bytes.Buffer
	sw, err := k.NewWriter(&head, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := head.Bytes()
	h[len(streamMagic)] = streamV1
	if _, err := w.Write(h); err != nil {
		t.Fatal(err)
	}
	sw.w, sw.aad = w, append([]byte(nil), aad...)
	return sw
}

// TestStreamVersions: a version 1 stream opens with NewReaderV1's v1AAD
// (and with NewReader's aad when that did not change), a version 2 stream
// only with its own aad, even when its version byte is set to 1.
func TestStreamVersions(t *testing.T) {
	k := testKey(t)
	plain := bytes.Repeat([]byte("0123456789"), 10000)
	read := func(b []byte, aad, v1 []byte) ([]byte, error) {
		r, err := k.NewReaderV1(bytes.NewReader(b), aad, v1)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	var old bytes.Buffer
	sw := newWriterV1(t, k, &old, []byte("old"))
	sw.Write(plain)
	sw.Close()
	if got, err := read(old.Bytes(), []byte("new"), []byte("old")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("v1 stream under v1AAD: %v", err)
	}
	if _, err := read(old.Bytes(), []byte("new"), []byte("other")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("v1 stream under another v1AAD: %v", err)
	}

	var cur bytes.Buffer
	sw, err := k.NewWriter(&cur, []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	sw.Write(plain)
	sw.Close()
	if cur.Bytes()[len(streamMagic)] != streamVersion {
		t.Fatalf("new stream has version %d", cur.Bytes()[len(streamMagic)])
	}
	if got, err := read(cur.Bytes(), []byte("new"), []byte("old")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("v2 stream: %v", err)
	}
	if _, err := read(cur.Bytes(), []byte("old"), []byte("new")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("v2 stream under the v1 aad: %v", err)
	}
	relabelled := bytes.Clone(cur.Bytes())
	relabelled[len(streamMagic)] = streamV1
	for _, aad := range [][]byte{[]byte("new"), []byte("old")} {
		if _, err := read(relabelled, []byte("new"), aad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("v2 stream relabelled as v1, v1AAD %q: %v", aad, err)
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
