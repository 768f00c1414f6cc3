package diskq

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"bytes"
	"github.com/ferry-health/ferry/queue"
	"os"
	"path/filepath"
	"testing"
)

// TestPrezeroedTail checks the zero region the writer keeps ahead of the
// data: a crash image (the files copied while the queue is open) carries
// it and replays every committed item, and a clean Close trims it so that
// a reopen finds no torn tail.
func TestPrezeroedTail(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	var items = make(map[string][]byte)
	for i := range 5 {
		it := put(t, q, "", i)
		items[it.ID] = it.Body
	}
	q.mu.Lock()
	size := q.cur.size
	q.mu.Unlock()
	segs := segFiles(t, dir)
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < size+prezeroChunk/2 {
		t.Fatalf("segment file is %d bytes with %d of data; want a zero region ahead", st.Size(), size)
	}

	// The crash image: every file as it is now, with the zero tail.
	crash := t.TempDir()
	for _, p := range segs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crash, filepath.Base(p)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	closeQ(t, q)
	if st, _ := os.Stat(last); st.Size() != size {
		t.Fatalf("after Close the segment is %d bytes, want %d (zero tail trimmed)", st.Size(), size)
	}

	var logs logBuf
	q = open(t, dir, Options{Logger: logs.logger()})
	if logs.String() != "" {
		t.Fatalf("clean reopen logged: %s", logs.String())
	}
	closeQ(t, q)

	// The zero tail is no torn write: replaying the crash image (every
	// kill -9 leaves one) must not WARN about megabytes of "torn tail".
	logs = logBuf{}
	q = open(t, crash, Options{Logger: logs.logger()})
	defer closeQ(t, q)
	if out := logs.String(); strings.Contains(out, "level=WARN") || !strings.Contains(out, "no record lost") {
		t.Fatalf("crash image with a zero tail logged: %s", out)
	}
	if n := q.Len(); n != len(items) {
		t.Fatalf("crash image Len = %d, want %d", n, len(items))
	}
	put(t, q, "", 9)
	for range len(items) {
		got, a := get(t, q)
		if want, ok := items[got.ID]; !ok || !bytes.Equal(got.Body, want) {
			t.Fatalf("crash image returned unexpected item %s", got.ID)
		}
		ack(t, a, nil)
	}
}

// TestPipelinedCommitAcrossRotations runs concurrent producers and a
// consumer over tiny segments, so that the writer rotates (and waits for
// the syncer) while batches are in flight, and checks that every Put that
// returned is there after a reopen unless it was acknowledged, and that
// nothing acknowledged comes back.
func TestPipelinedCommitAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4 << 10}
	q := open(t, dir, opts)
	const producers, each = 8, 150
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				it := &queue.Item{Key: fmt.Sprint("k", p), Body: fmt.Appendf(nil, "p%d-i%d-%s", p, i, strings.Repeat("y", 200))}
				if err := q.Put(context.Background(), it); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		}()
	}
	acked := map[string]bool{}
	for range producers * each / 2 {
		it, a := get(t, q)
		acked[string(it.Body)] = true
		ack(t, a, nil)
	}
	wg.Wait()
	if err := q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	closeQ(t, q)

	q = open(t, dir, opts)
	defer closeQ(t, q)
	if n, want := q.Len(), producers*each-len(acked); n != want {
		t.Fatalf("Len after reopen = %d, want %d", n, want)
	}
	seen := map[string]bool{}
	for range q.Len() {
		it, a := get(t, q)
		if acked[string(it.Body)] || seen[string(it.Body)] {
			t.Fatalf("item %q delivered again", it.Body)
		}
		seen[string(it.Body)] = true
		ack(t, a, nil)
	}
	// The first Sync makes the ACK records durable; settled segment files
	// are removed after it answers, so a second one waits for that.
	for range 2 {
		if err := q.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if segs := segFiles(t, dir); len(segs) > 3 {
		t.Fatalf("%d segment files left after everything was acknowledged", len(segs))
	}
}
