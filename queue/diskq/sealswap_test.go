package diskq_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestSealedSpillSwap swaps the sealed body files of two spilled items of
// the same size (what anyone who can write to data_dir, or a restore that
// mixes up two files, can do) and reads the queue again: neither item may
// come back with the other patient's bundle. Each body file is sealed for
// its item's ID, so both are refused as corrupt (dead letters naming the
// item, no PHI) and the next item is delivered.
func TestSealedSpillSwap(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := newKey(t)
	q := openQ(t, dir, key)
	a := putBody(t, q, "patient-a", markedBody("aaaaaaaa", 1<<20+100))
	b := putBody(t, q, "patient-b", markedBody("bbbbbbbb", 1<<20+100))
	c := putBody(t, q, "patient-c", markedBody("cccccccc", 300))
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	closeQueue(t, q)

	files, err := filepath.Glob(filepath.Join(dir, "bodies", "b-*"))
	if err != nil || len(files) != 2 {
		t.Fatalf("body files %v, %v", files, err)
	}
	tmp := filepath.Join(dir, "swap")
	if err := os.Rename(files[0], tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(files[1], files[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, files[1]); err != nil {
		t.Fatal(err)
	}

	q = openQ(t, dir, key)
	defer closeQueue(t, q)
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it.ID != c.ID {
		r, _ := it.OpenBody()
		got := new(bytes.Buffer)
		if r != nil {
			got.ReadFrom(r)
			r.Close()
		}
		t.Fatalf("got item %s (body holds a's %v, b's %v), want the swapped ones refused and %s delivered",
			it.ID, bytes.Contains(got.Bytes(), []byte("aaaaaaaa")), bytes.Contains(got.Bytes(), []byte("bbbbbbbb")), c.ID)
	}
	ack(ctx, nil)
	for _, x := range []*queue.Item{a, b} {
		dl, err := q.DeadLetter(x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !dl.Corrupt || !strings.Contains(dl.Reason, "item "+x.ID+"'s body") {
			t.Fatalf("dead letter of %s: corrupt %v, reason %q", x.ID, dl.Corrupt, dl.Reason)
		}
		if strings.Contains(dl.Reason, marker) || strings.Contains(dl.Reason, "patient") {
			t.Fatalf("reason shows PHI: %q", dl.Reason)
		}
	}
}

// sealOld writes plain as a sealed stream of version 1 or 2 (the formats
// of earlier releases: header "FERRYSEAL", version, key id, nonce prefix;
// chunks sealed under the key itself, version 1 with aad only, version 2
// with the header's magic, version and key id before aad), implemented
// here from the format so that the test pins it.
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
	var prefix [7]byte
	rand.Read(prefix[:])
	out := append([]byte("FERRYSEAL"), version)
	out = append(out, id[:8]...)
	if version == 2 {
		aad = append(bytes.Clone(out), aad...)
	}
	out = append(out, prefix[:]...)
	for n := uint32(0); ; n++ {
		c := min(len(plain), seal.ChunkSize)
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

// keyWithRaw makes a key file and returns the key and its raw bytes.
func keyWithRaw(t *testing.T) (*seal.Key, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ferry.key")
	k, err := seal.GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return k, raw
}

// TestSealedSpillOldFormat: a body file sealed by an earlier release
// (stream version 1, the fixed aad "ferry diskq body", not bound to its
// item; or version 2, bound to its item) and queued by it, with its size
// on disk in the record, still opens after the upgrade with its plaintext
// size right (the Content-Length of its delivery), both as a queued
// item's body and as a dead letter's. Those headers are shorter than
// today's.
func TestSealedSpillOldFormat(t *testing.T) {
	for _, version := range []byte{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			key, raw := keyWithRaw(t)
			q := openQ(t, dir, key)
			body := markedBody("oldformat", 1<<20+100)
			path := spill(t, q, body)
			id := strings.TrimPrefix(filepath.Base(path), "b-")
			aad := []byte("ferry diskq body")
			if version == 2 {
				aad = []byte("ferry diskq body\x00" + id)
			}
			old := sealOld(t, raw, version, body, aad)
			if err := os.WriteFile(path, old, 0o600); err != nil {
				t.Fatal(err)
			}
			// Queued as the earlier release did: the file as it is.
			it := &queue.Item{ID: id, Key: "k1", Source: "test", BodyFile: path}
			if err := q.Put(ctx, it); err != nil {
				t.Fatal(err)
			}
			closeQueue(t, q)
			if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, old) {
				t.Fatalf("old body file not kept as it is: %v", err)
			}

			q = openQ(t, dir, key)
			defer closeQueue(t, q)
			got, ack, err := q.Get(ctx)
			if err != nil || got.ID != it.ID {
				t.Fatalf("Get: %v %v", got, err)
			}
			if got.Size != int64(len(body)) {
				t.Fatalf("old-format body: Size %d, want %d", got.Size, len(body))
			}
			if b := readAll(t, got); !bytes.Equal(b, body) {
				t.Fatal("old-format body read back wrong")
			}
			// Dead-lettered, the old file is kept as it is and still opens.
			if err := ack(ctx, queue.Permanent(errors.New("400"))); err != nil {
				t.Fatal(err)
			}
			r, size, err := q.OpenDeadLetterBody(it.ID)
			if err != nil {
				t.Fatal(err)
			}
			dead := new(bytes.Buffer)
			_, err = dead.ReadFrom(r)
			r.Close()
			if err != nil || !bytes.Equal(dead.Bytes(), body) || size != int64(len(body)) {
				t.Fatalf("old-format dead body: %d bytes, size %d, %v", dead.Len(), size, err)
			}
		})
	}
}

// TestSealedSpillRetry: a spilled item dead-lettered and put back by
// Retry (same ID, the dead letter's body file linked back) is delivered
// with its body; so is an item put with a caller-set ID whose body file
// CreateBody sealed for another ID.
func TestSealedSpillRetry(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q := openQ(t, dir, newKey(t))
	defer closeQueue(t, q)
	body := markedBody("retry", 1<<20+100)
	it := putBody(t, q, "k1", body)
	_, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("400"))); err != nil {
		t.Fatal(err)
	}
	if err := q.Retry(ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	got, ack, err := q.Get(ctx)
	if err != nil || got.ID != it.ID {
		t.Fatalf("Get after Retry: %v %v", got, err)
	}
	if b := readAll(t, got); !bytes.Equal(b, body) {
		t.Fatal("retried body read back wrong")
	}
	ack(ctx, nil)

	own := &queue.Item{ID: "caller-set-id", Key: "k2", BodyFile: spill(t, q, body)}
	if err := q.Put(ctx, own); err != nil {
		t.Fatal(err)
	}
	got, ack, err = q.Get(ctx)
	if err != nil || got.ID != own.ID {
		t.Fatalf("Get: %v %v", got, err)
	}
	if b := readAll(t, got); !bytes.Equal(b, body) {
		t.Fatal("caller-set-id body read back wrong")
	}
	ack(ctx, nil)
}
