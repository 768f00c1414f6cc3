package diskq

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
)

// directBody is item i's body: sizes from 1 byte to 13 KB, so that
// records end anywhere in a block and some span several.
func directBody(i int) []byte {
	n := 1 + (i*2741)%13000
	b := make([]byte, n)
	for j := range b {
		b[j] = byte('a' + (i+j)%26)
	}
	return b
}

// TestDirectWrites: where the log is written directly (Linux, ext4 or
// XFS), records of every size, written by a lone producer and by
// concurrent ones while readers take them, read back the same in process
// and after a reopen; the tail block rewritten under every batch loses
// nothing before it.
func TestDirectWrites(t *testing.T) {
	dir := t.TempDir()
	if !directSupported(dir) {
		t.Skipf("%s: no direct writes on this system or file system", dir)
	}
	q := open(t, dir, Options{SegmentBytes: 2 << 20})
	if q.cur.dio == nil {
		t.Fatal("the newest segment has no direct-write descriptor")
	}
	ctx := context.Background()
	const n = 600
	// Readers take items while they are written: a read of a block the
	// writer is writing again must see what was committed there.
	// Every item has a key of its own and stays leased, unsettled, so
	// the reopen below delivers all of them again.
	got := make(chan *queue.Item, n)
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				it, _, err := q.Get(ctx)
				if err != nil {
					return
				}
				got <- it
			}
		})
	}
	for i := range n / 2 {
		if err := q.Put(ctx, &queue.Item{ID: fmt.Sprintf("lone-%04d", i), Key: fmt.Sprint(i), Body: directBody(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var puts sync.WaitGroup
	for w := range 6 {
		puts.Go(func() {
			for i := n/2 + w; i < n; i += 6 {
				if err := q.Put(ctx, &queue.Item{ID: fmt.Sprintf("many-%04d", i), Key: fmt.Sprint(i), Body: directBody(i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	puts.Wait()
	if len(q.segs) < 2 {
		t.Errorf("%d segment(s): the test meant to cross a rotation", len(q.segs))
	}
	if q.cur.dio == nil {
		t.Error("the newest segment lost its direct-write descriptor")
	}
	for deadline := time.Now().Add(time.Minute); len(got) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("readers took %d of %d items", len(got), n)
		}
	}
	closeQ(t, q)
	readers.Wait()
	close(got)
	for it := range got {
		checkDirectBody(t, it)
	}

	q = open(t, dir, Options{})
	defer closeQ(t, q)
	seen := map[string]bool{}
	for range n {
		it, a := get(t, q)
		checkDirectBody(t, it)
		if seen[it.ID] {
			t.Fatalf("%s twice", it.ID)
		}
		seen[it.ID] = true
		ack(t, a, nil)
	}
	if q.Len() != 0 {
		t.Fatalf("%d items left after reading all %d", q.Len(), n)
	}
}

func checkDirectBody(t *testing.T, it *queue.Item) {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(it.ID[len(it.ID)-4:], "%d", &i); err != nil {
		t.Fatalf("item id %q: %v", it.ID, err)
	}
	if !bytes.Equal(it.Body, directBody(i)) {
		t.Fatalf("item %s: body of %d bytes differs from the %d put", it.ID, len(it.Body), len(directBody(i)))
	}
}

// TestDirectAfterBufferedWrite: a batch that reaches past the pre-zeroed
// region is written buffered; the next direct write finds the tail block
// it does not hold in the page cache, and both survive a reopen.
func TestDirectAfterBufferedWrite(t *testing.T) {
	dir := t.TempDir()
	if !directSupported(dir) {
		t.Skipf("%s: no direct writes on this system or file system", dir)
	}
	q := open(t, dir, Options{})
	ctx := context.Background()
	big := bytes.Repeat([]byte("B"), prezeroLead+12345)
	bodies := [][]byte{[]byte("first"), big, []byte("after the big one"), []byte("and one more")}
	for i, b := range bodies {
		if err := q.Put(ctx, &queue.Item{ID: fmt.Sprint("item-", i), Key: "k", Body: b}); err != nil {
			t.Fatal(err)
		}
	}
	if q.cur.dio == nil || q.cur.dio.tail.off < 0 {
		t.Fatal("the writes after the big record were not direct")
	}
	closeQ(t, q)
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	for i, want := range bodies {
		it, a := get(t, q)
		if !bytes.Equal(it.Body, want) {
			t.Fatalf("item %d: %d bytes, want %d", i, len(it.Body), len(want))
		}
		ack(t, a, nil)
	}
}

// TestBufferedWrites: Options.BufferedWrites (and every system or file
// system without direct writes) writes through the page cache.
func TestBufferedWrites(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{BufferedWrites: true})
	defer closeQ(t, q)
	if q.cur.dio != nil {
		t.Fatal("direct-write descriptor opened with BufferedWrites")
	}
	if err := q.Put(context.Background(), &queue.Item{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	// The default on this file system, for the record in the test log.
	q2 := open(t, t.TempDir(), Options{})
	t.Logf("direct writes by default on %s: %v", os.TempDir(), q2.cur.dio != nil)
	closeQ(t, q2)
}

// TestProbeFlush: the flush probe measures the queue's own way of
// committing (direct where the queue writes directly) and leaves nothing.
func TestProbeFlush(t *testing.T) {
	dir := t.TempDir()
	lat, direct, err := ProbeFlush(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) != 5 {
		t.Fatalf("%d samples, want 5", len(lat))
	}
	if direct != directSupported(dir) {
		t.Errorf("direct = %v, but the queue writes directly here: %v", direct, directSupported(dir))
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("probe left %v behind", left)
	}
}

// TestDirectRefusedFallsBack: when the kernel refuses a direct write
// (EINVAL: here a buffer that is not aligned, as a device with a larger
// block would refuse ours), the batch is written through the page cache,
// the queue stops writing directly, says so once, and nothing is lost.
func TestDirectRefusedFallsBack(t *testing.T) {
	dir := t.TempDir()
	if !directSupported(dir) {
		t.Skipf("%s: no direct writes on this system or file system", dir)
	}
	var logs logBuf
	q := open(t, dir, Options{Logger: logs.logger()})
	ctx := context.Background()
	if err := q.Put(ctx, &queue.Item{ID: "before", Body: []byte("written directly")}); err != nil {
		t.Fatal(err)
	}
	if q.cur.dio == nil || !q.direct {
		t.Fatal("not writing directly to begin with")
	}
	// The writer's next batch buffer starts one byte past an aligned
	// address: O_DIRECT refuses it.
	q.wmu.Lock()
	q.dbuf = alignedBuffer(directBufferKeep + directAlign)[1:]
	q.wmu.Unlock()
	if err := q.Put(ctx, &queue.Item{ID: "refused", Body: []byte("falls back to the page cache")}); err != nil {
		t.Fatalf("Put after a refused direct write: %v", err)
	}
	if err := q.Put(ctx, &queue.Item{ID: "after", Body: []byte("buffered from now on")}); err != nil {
		t.Fatal(err)
	}
	if q.direct || q.cur.dio != nil {
		t.Error("still writing directly after the kernel refused it")
	}
	if n := strings.Count(logs.String(), "direct writes refused"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once:\n%s", n, logs.String())
	}
	closeQ(t, q)
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	for _, want := range []string{"before", "refused", "after"} {
		it, a := get(t, q)
		if it.ID != want {
			t.Fatalf("got %s, want %s", it.ID, want)
		}
		ack(t, a, nil)
	}
}
