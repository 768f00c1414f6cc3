package diskq_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestRelocatedPlaintextSealed: an item queued before encryption at rest
// was turned on, left waiting (retried while its exchange refuses it) as
// later items come and go, is copied by the queue into its newest segment
// so that the old ones can go (relocateOldest). The copy was its record
// as it was, in clear: the patient's bundle was written anew into a
// data_dir sealed at rest, segment after segment for as long as it
// waited, where README has data from before the key stay only "until the
// segment is deleted". The copy is sealed with the queue's key.
func TestRelocatedPlaintextSealed(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	const oldMark = "OLD^PLAIN^RELOCATED"
	body := bytes.ReplaceAll(markedBody("old", 200), []byte(marker), []byte(oldMark))
	q, err := diskq.Open(dir, diskq.Options{SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	stuck := &queue.Item{Key: "p-old", Body: body, Attrs: map[string]string{"type": "ADT^A01"}}
	if err := q.Put(ctx, stuck); err != nil {
		t.Fatal(err)
	}
	closeQueue(t, q)

	key := newKey(t)
	q, err = diskq.Open(dir, diskq.Options{Key: key, SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { closeQueue(t, q) }()
	it, ackStuck, err := q.Get(ctx)
	if err != nil || it.ID != stuck.ID {
		t.Fatalf("Get = %v, want the old item", err)
	}
	for i := range 100 {
		putBody(t, q, "", markedBody("new", 100+i))
	}
	for range 100 {
		_, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ack(ctx, nil)
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ackStuck(ctx, errors.New("HTTP 503"))
	for i := range 20 {
		putBody(t, q, "later", markedBody("later", 300+i))
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) > 3 {
		t.Fatalf("%d segments: the old item was not relocated; the test no longer shows what it is about", len(segs))
	}
	if f := filesWith(t, dir, oldMark); len(f) != 0 {
		t.Fatalf("the old item's bundle, relocated under a key, is in clear in %v", f)
	}
	closeQueue(t, q)

	q, err = diskq.Open(dir, diskq.Options{Key: key, SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	got, ack, err := q.Get(ctx)
	if err != nil || got.ID != stuck.ID || got.Key != "p-old" || got.Attrs["type"] != "ADT^A01" || got.Attempts != 1 || !bytes.Equal(readAll(t, got), body) {
		t.Fatalf("relocated item after reopen: %+v, %v", got, err)
	}
	ack(ctx, nil)
	if st := q.Stats(); st.Corrupt != 0 {
		t.Fatalf("stats %+v", st)
	}
}
