package diskq_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// marker is a made-up patient fragment that must never be on disk in
// the clear when the queue has a key.
const marker = "DOE^JANE^MRN-31337"

func newKey(t *testing.T) *seal.Key {
	t.Helper()
	k, err := seal.GenerateKeyFile(filepath.Join(t.TempDir(), "ferry.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openQ(t *testing.T, dir string, key *seal.Key) *diskq.Queue {
	t.Helper()
	q, err := diskq.Open(dir, diskq.Options{Key: key, SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func closeQueue(t *testing.T, q *diskq.Queue) {
	t.Helper()
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// markedBody is a body holding marker, of at least n bytes.
func markedBody(tag string, n int) []byte {
	b := []byte(`{"resourceType":"Bundle","id":"` + tag + `","patient":"` + marker + `","pad":"`)
	for len(b) < n {
		b = append(b, "0123456789abcdef"...)
	}
	return append(b, `"}`...)
}

// filesWith returns the files under dir that contain s.
func filesWith(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func putBody(t *testing.T, q *diskq.Queue, key string, body []byte) *queue.Item {
	t.Helper()
	it := &queue.Item{Key: key, Source: "test"}
	if len(body) > diskq.SpillBytes {
		it.BodyFile = spill(t, q, body)
	} else {
		it.Body = body
	}
	if err := q.Put(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	return it
}

// TestSealedAtRest puts small and spilled (> 1 MiB) items and dead
// letters with a key, delivers some, reopens, and checks that no file
// under the queue directory holds the marker, while Get, Size, Open and
// the dead-letter operations give the plaintext back.
func TestSealedAtRest(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := newKey(t)
	q := openQ(t, dir, key)

	small := markedBody("small", 500)
	large := markedBody("large", 3<<20/2)
	a := putBody(t, q, "k1", small)
	b := putBody(t, q, "k2", large)
	deadSmall := putBody(t, q, "k3", markedBody("dead-small", 200))
	deadLarge := putBody(t, q, "k4", markedBody("dead-large", 1<<20+100))
	c := putBody(t, q, "k5", markedBody("kept", 300))
	kept := putBody(t, q, "k6", markedBody("kept-large", 2<<20))

	for range 4 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch it.ID {
		case a.ID:
			if !bytes.Equal(it.Body, small) || it.BodySize() != int64(len(small)) {
				t.Fatalf("small item: %d bytes back", len(it.Body))
			}
			ack(ctx, nil)
		case b.ID:
			if it.Size != int64(len(large)) || it.Body != nil {
				t.Fatalf("spilled item: Size %d, want the plaintext size %d", it.Size, len(large))
			}
			if got := readAll(t, it); !bytes.Equal(got, large) {
				t.Fatalf("spilled item: %d bytes back, differ", len(got))
			}
			ack(ctx, nil)
		case deadSmall.ID, deadLarge.ID:
			if err := ack(ctx, queue.Permanent(errors.New("exchange said 400"))); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected item %s", it.ID)
		}
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if f := filesWith(t, dir, marker); len(f) != 0 {
		t.Fatalf("plaintext on disk with a key: %v", f)
	}
	if n := dirNames(t, filepath.Join(dir, "dead")); len(n) != 5 { // 2 .json, 1 .body, 2 .later (counts, no PHI)
		t.Fatalf("dead letters: %v", n)
	}
	closeQueue(t, q)

	q = openQ(t, dir, key)
	defer closeQueue(t, q)
	if q.Len() != 2 {
		t.Fatalf("Len after reopen = %d, want 2", q.Len())
	}
	for _, want := range []*queue.Item{c, kept} {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if it.ID != want.ID {
			t.Fatalf("got %s, want %s", it.ID, want.ID)
		}
		if got := readAll(t, it); !strings.Contains(string(got), marker) || int64(len(got)) != it.BodySize() {
			t.Fatalf("item %s: %d bytes back, BodySize %d", it.ID, len(got), it.BodySize())
		}
		ack(ctx, nil)
	}

	list, err := q.DeadLetters()
	if err != nil || len(list) != 2 {
		t.Fatalf("DeadLetters = %+v, %v", list, err)
	}
	for _, dl := range list {
		if dl.Sealed || dl.Reason != "exchange said 400" {
			t.Fatalf("dead letter %+v", dl)
		}
	}
	if list[1].Size != len(markedBody("dead-large", 1<<20+100)) {
		t.Fatalf("spilled dead letter Size %d, want the plaintext size", list[1].Size)
	}
	dl, err := q.DeadLetter(deadSmall.ID)
	if err != nil || !bytes.Equal(dl.Body, markedBody("dead-small", 200)) {
		t.Fatalf("DeadLetter: %v", err)
	}
	r, size, err := q.OpenDeadLetterBody(deadLarge.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || size != int64(len(got)) || !bytes.Equal(got, markedBody("dead-large", 1<<20+100)) {
		t.Fatalf("OpenDeadLetterBody: %d of %d bytes, %v", len(got), size, err)
	}
	if l, err := diskq.InspectDeadLettersKey(dir, "", key); err != nil || len(l) != 2 || l[0].Sealed {
		t.Fatalf("InspectDeadLettersKey = %+v, %v", l, err)
	}
	if l, err := diskq.InspectDeadLetters(dir, ""); err != nil || len(l) != 2 || !l[0].Sealed || !strings.Contains(l[0].Reason, "no encryption key") {
		t.Fatalf("InspectDeadLetters without the key = %+v, %v", l, err)
	}

	// Retry puts a sealed dead letter back, still sealed.
	if err := q.Retry(ctx, deadLarge.ID); err != nil {
		t.Fatal(err)
	}
	it, ack, err := q.Get(ctx)
	if err != nil || it.ID != deadLarge.ID || !bytes.Equal(readAll(t, it), markedBody("dead-large", 1<<20+100)) {
		t.Fatalf("retried item: %v", err)
	}
	if f := filesWith(t, dir, marker); len(f) != 0 {
		t.Fatalf("plaintext on disk with a key: %v", f)
	}
	ack(ctx, nil)
}

// TestWrongOrMissingKey reopens a sealed queue without its key and with
// another key: Get names the problem and the items stay, dead letters
// included, until the right key comes back.
func TestWrongOrMissingKey(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := newKey(t)
	q := openQ(t, dir, key)
	small := putBody(t, q, "", markedBody("small", 100))
	large := putBody(t, q, "", markedBody("large", 1<<20+1))
	dead := putBody(t, q, "", markedBody("dead", 100))
	var acks []queue.AckFunc
	var ids []string
	for range 3 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		acks, ids = append(acks, ack), append(ids, it.ID)
	}
	for i, ack := range acks {
		if ids[i] == dead.ID {
			ack(ctx, queue.Permanent(errors.New("400")))
		} else {
			ack(ctx, errors.New("503")) // back for later
		}
	}
	closeQueue(t, q)

	for _, c := range []struct {
		name string
		key  *seal.Key
		want func(error) bool
	}{
		{"no key", nil, func(err error) bool { return errors.Is(err, diskq.ErrNoKey) }},
		{"other key", newKey(t), func(err error) bool {
			var km *seal.KeyMismatchError
			return errors.As(err, &km) && km.Data == key.ID()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := openQ(t, dir, c.key)
			defer closeQueue(t, q)
			for range 3 {
				_, _, err := q.Get(ctx)
				if err == nil || !c.want(err) {
					t.Fatalf("Get = %v, want a key error", err)
				}
				t.Logf("Get: %v", err)
			}
			if q.Len() != 2 || q.Stats().Corrupt != 0 || q.Stats().DeadLetters != 1 {
				t.Fatalf("Len %d, stats %+v: items must stay, not be dead-lettered", q.Len(), q.Stats())
			}
			if _, err := q.DeadLetter(dead.ID); !c.want(err) {
				t.Fatalf("DeadLetter = %v, want a key error", err)
			}
			list, err := q.DeadLetters()
			if err != nil || len(list) != 1 || !list[0].Sealed || list[0].ID != dead.ID {
				t.Fatalf("DeadLetters = %+v, %v", list, err)
			}
			if err := q.Retry(ctx, dead.ID); err == nil {
				t.Fatal("Retry without the key succeeded")
			}
		})
	}

	q = openQ(t, dir, key)
	defer closeQueue(t, q)
	if q.Len() != 2 {
		t.Fatalf("Len with the right key = %d, want 2", q.Len())
	}
	for _, want := range []*queue.Item{small, large} {
		it, ack, err := q.Get(ctx)
		if err != nil || it.ID != want.ID || !strings.Contains(string(readAll(t, it)), marker) {
			t.Fatalf("Get with the right key: %v", err)
		}
		if it.Attempts != 1 {
			t.Fatalf("Attempts %d: the failed Gets must not count", it.Attempts)
		}
		ack(ctx, nil)
	}
	if dl, err := q.DeadLetter(dead.ID); err != nil || !strings.Contains(string(dl.Body), marker) {
		t.Fatalf("DeadLetter with the right key: %v", err)
	}
}

// TestSwitchToEncryption opens a queue holding plaintext items, a
// plaintext dead letter and a plaintext spilled body with a key: the old
// items are delivered, new ones are sealed, and a retried old dead letter
// is sealed on its way back.
func TestSwitchToEncryption(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	const oldMark, newMark = "OLD^PLAIN^PATIENT", "NEW^SEALED^PATIENT"
	body := func(mark string, n int) []byte {
		return bytes.ReplaceAll(markedBody(mark, n), []byte(marker), []byte(mark))
	}
	q := openQ(t, dir, nil)
	old1 := putBody(t, q, "p", body(oldMark, 100))
	old2 := putBody(t, q, "p", body(oldMark, 1<<20+10))
	oldDead := putBody(t, q, "", body(oldMark, 1<<20+20))
	it, ack, err := q.Get(ctx) // old1 (key p is busy), then oldDead
	if err != nil || it.ID != old1.ID {
		t.Fatal(err)
	}
	it2, ack2, err := q.Get(ctx)
	if err != nil || it2.ID != oldDead.ID {
		t.Fatal(err)
	}
	ack2(ctx, queue.Permanent(errors.New("400")))
	ack(ctx, errors.New("503"))
	closeQueue(t, q)
	if len(filesWith(t, dir, oldMark)) == 0 {
		t.Fatal("test setup: plaintext items not on disk in the clear")
	}

	key := newKey(t)
	q = openQ(t, dir, key)
	defer closeQueue(t, q)
	new1 := putBody(t, q, "p", body(newMark, 100))
	new2 := putBody(t, q, "p", body(newMark, 1<<20+30))
	if f := filesWith(t, dir, newMark); len(f) != 0 {
		t.Fatalf("new items in the clear: %v", f)
	}
	for _, want := range []*queue.Item{old1, old2, new1, new2} {
		it, ack, err := q.Get(ctx)
		if err != nil || it.ID != want.ID {
			t.Fatalf("Get: %v (want %s)", err, want.ID)
		}
		b := readAll(t, it)
		if it.BodySize() != int64(len(b)) || !strings.Contains(string(b), map[bool]string{true: oldMark, false: newMark}[want == old1 || want == old2]) {
			t.Fatalf("item %s: %d bytes back, BodySize %d", it.ID, len(b), it.BodySize())
		}
		ack(ctx, nil)
	}
	if err := q.Retry(ctx, oldDead.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Settled records stay in the log until their segment is deleted;
	// body files and dead letters go at once.
	for _, sub := range []string{"bodies", "dead"} {
		if f := filesWith(t, filepath.Join(dir, sub), oldMark); len(f) != 0 {
			t.Fatalf("after delivery and retry, plaintext left in %s: %v", sub, f)
		}
	}
	it, ack, err = q.Get(ctx)
	if err != nil || it.ID != oldDead.ID || !bytes.Equal(readAll(t, it), body(oldMark, 1<<20+20)) {
		t.Fatalf("retried old dead letter: %v", err)
	}
	ack(ctx, nil)
}

// TestSealedSpillDamage: a sealed body file cut short is corrupt (dead-
// lettered at Get); one with a changed byte fails its read, never
// yielding unverified bytes.
func TestSealedSpillDamage(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := newKey(t)
	q := openQ(t, dir, key)
	defer closeQueue(t, q)
	cut := putBody(t, q, "", markedBody("cut", 1<<20+1))
	flip := putBody(t, q, "", markedBody("flip", 1<<20+1))
	bodies := dirNames(t, filepath.Join(dir, "bodies"))
	if len(bodies) != 2 {
		t.Fatal(bodies)
	}
	// Put keeps a body file where CreateBody made it, so each item's
	// BodyFile names its own file (two files made in one millisecond need
	// not sort in creation order).
	if filepath.Base(cut.BodyFile) == filepath.Base(flip.BodyFile) || !slices.Contains(bodies, filepath.Base(cut.BodyFile)) || !slices.Contains(bodies, filepath.Base(flip.BodyFile)) {
		t.Fatalf("body files %v, items' %s and %s", bodies, cut.BodyFile, flip.BodyFile)
	}
	st, _ := os.Stat(cut.BodyFile)
	if err := os.Truncate(cut.BodyFile, st.Size()-10); err != nil {
		t.Fatal(err)
	}
	// Every bit of the byte is inverted: writing a fixed byte leaves the
	// file unchanged when the ciphertext already holds it.
	f, err := os.OpenFile(flip.BodyFile, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ = f.Stat()
	b := []byte{0}
	if _, err := f.ReadAt(b, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	it, ack, err := q.Get(ctx)
	if err != nil || it.ID != flip.ID {
		t.Fatalf("Get = %v; want the cut item dead-lettered and the flipped one handed out", err)
	}
	r, err := it.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("a changed byte in a sealed body read without error")
	}
	r.Close()
	ack(ctx, errors.New("read failed"))
	dl, err := q.DeadLetter(cut.ID)
	if err != nil || !dl.Corrupt {
		t.Fatalf("cut body: dead letter %+v, %v", dl, err)
	}
}

// TestOpenBodyFile reads a spill file outside the queue (as the hold
// store does).
func TestOpenBodyFile(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	q := openQ(t, dir, key)
	defer closeQueue(t, q)
	body := markedBody("x", 70000)
	path := spill(t, q, body)
	r, size, err := diskq.OpenBodyFile(path, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || size != int64(len(body)) || !bytes.Equal(got, body) {
		t.Fatalf("OpenBodyFile: %d/%d bytes, %v", len(got), size, err)
	}
	if _, _, err := diskq.OpenBodyFile(path, nil); !errors.Is(err, diskq.ErrNoKey) {
		t.Fatalf("OpenBodyFile without key = %v", err)
	}
}
