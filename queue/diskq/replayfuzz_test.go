package diskq_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// FuzzReplayDamage: whatever damage a disk does to the log (bytes
// overwritten anywhere in the segments, a segment cut short), Open neither
// panics nor hangs, and the queue never hands out an item under another
// item's ID or with a body that item was not put with: a damaged record is
// skipped (or a damaged tail cut), never read as something else. An item
// settled before the damage may come back (its ACK record damaged: one
// more delivery, which at-least-once allows), with its own body. What is
// handed out and settled after the damage stays settled when the queue is
// opened again.
//
// The input is a list of damages, 9 bytes each: a segment (byte), an
// offset into it (u32, modulo its size) and a length to cut it to when the
// top bit of the offset is set, else one byte to write there.
func FuzzReplayDamage(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 40, 0, 0, 0, '#'})
	f.Add([]byte{1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0x80, 0, 0, 0, 0})
	f.Add([]byte{0, 30, 0, 0, 0, 0, 0, 0, 0xff, 0, 31, 0, 0, 0, 0, 0, 0, 0x7f})
	f.Fuzz(func(t *testing.T, damage []byte) {
		dir := filepath.Join(t.TempDir(), "q")
		q, err := diskq.Open(dir, diskq.Options{SegmentBytes: 4 << 10, BufferedWrites: true})
		if err != nil {
			t.Fatal(err)
		}
		bodies := map[string][]byte{}
		ctx := context.Background()
		for i := range 24 {
			id := fmt.Sprintf("item-%02d", i)
			body := fmt.Appendf(nil, `{"resourceType":"Bundle","id":%q,"pad":"%0*d"}`, id, 100+i*13, i)
			bodies[id] = body
			if err := q.Put(ctx, &queue.Item{ID: id, Key: fmt.Sprintf("k%d", i%3), Body: body, Attrs: map[string]string{"n": id}}); err != nil {
				t.Fatal(err)
			}
		}
		// Settle a few, so ACK records are in the log too.
		for range 5 {
			_, ack, err := q.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ack(ctx, nil)
		}
		if err := q.Close(ctx); err != nil {
			t.Fatal(err)
		}
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		if len(segs) < 2 {
			t.Fatalf("%d segments, want several", len(segs))
		}
		for len(damage) >= 9 {
			d := damage[:9]
			damage = damage[9:]
			seg := segs[int(d[0])%len(segs)]
			fi, err := os.Stat(seg)
			if err != nil || fi.Size() == 0 {
				continue
			}
			off := binary.LittleEndian.Uint32(d[1:5])
			cut := off&0x80000000 != 0
			pos := int64(off&0x7fffffff) % fi.Size()
			if cut {
				os.Truncate(seg, pos)
				continue
			}
			fh, err := os.OpenFile(seg, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			fh.WriteAt(d[8:9], pos)
			fh.Close()
		}

		q, err = diskq.Open(dir, diskq.Options{SegmentBytes: 4 << 10, BufferedWrites: true})
		if err != nil {
			return // refused whole: a clear error, nothing handed out
		}
		seen := map[string]bool{}
		for q.Len() > 0 {
			gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			it, ack, err := q.Get(gctx)
			cancel()
			if err != nil {
				t.Fatalf("Get with %d left: %v", q.Len(), err)
			}
			want, ok := bodies[it.ID]
			if !ok {
				t.Fatalf("item %q handed out: it was never put", it.ID)
			}
			if !bytes.Equal(it.Body, want) || it.Attrs["n"] != it.ID {
				t.Fatalf("item %q handed out with a body or attributes it was not put with", it.ID)
			}
			if seen[it.ID] {
				t.Fatalf("item %q handed out twice", it.ID)
			}
			seen[it.ID] = true
			ack(ctx, nil)
		}
		if err := q.Close(ctx); err != nil {
			t.Fatal(err)
		}
		q, err = diskq.Open(dir, diskq.Options{SegmentBytes: 4 << 10, BufferedWrites: true})
		if err != nil {
			t.Fatalf("reopened after the damaged log was drained: %v", err)
		}
		defer q.Close(ctx)
		if n := q.Len(); n != 0 {
			t.Fatalf("%d items back after every item was settled", n)
		}
	})
}
