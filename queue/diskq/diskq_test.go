package diskq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ferry-health/ferry/queue"
)

// phi is a made-up patient fragment put into bodies so that tests can
// check it never reaches a log.
const phi = "PID|||MRN-4711^^^HOSP||DOE^JANE"

func open(t *testing.T, dir string, opts Options) *Queue {
	t.Helper()
	q, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return q
}

func closeQ(t *testing.T, q *Queue) {
	t.Helper()
	if err := q.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func put(t *testing.T, q *Queue, key string, n int) *queue.Item {
	t.Helper()
	it := &queue.Item{Key: key, Source: "mllp/main", Body: fmt.Appendf(nil, "%s|item %d|%s", phi, n, strings.Repeat("x", 100)),
		Attrs: map[string]string{"n": fmt.Sprint(n)}}
	if err := q.Put(context.Background(), it); err != nil {
		t.Fatalf("Put: %v", err)
	}
	return it
}

func get(t *testing.T, q *Queue) (*queue.Item, queue.AckFunc) {
	t.Helper()
	it, ack, err := q.Get(context.Background())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return it, ack
}

func ack(t *testing.T, a queue.AckFunc, err error) {
	t.Helper()
	if aerr := a(context.Background(), err); aerr != nil {
		t.Fatalf("ack: %v", aerr)
	}
}

// logBuf collects log output for PHI checks.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	idx, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range idx {
		out = append(out, filepath.Join(dir, segName(i)))
	}
	return out
}

func TestIDIsULIDAndEnqueuedSet(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	it := put(t, q, "", 1)
	if _, err := ulid.ParseStrict(it.ID); err != nil {
		t.Fatalf("ID %q is not a ULID: %v", it.ID, err)
	}
	if it.Enqueued.IsZero() {
		t.Fatal("Enqueued not set")
	}
	got, a := get(t, q)
	if !got.Enqueued.Equal(it.Enqueued) {
		t.Fatalf("Enqueued %v, stored %v", got.Enqueued, it.Enqueued)
	}
	ack(t, a, nil)
}

func TestDeadLetterOps(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	it := put(t, q, "K", 1)
	other := put(t, q, "", 2)
	_, a := get(t, q)
	ack(t, a, fmt.Errorf("deliver: %w", queue.Permanent(errors.New("HTTP 422: Patient.birthDate invalid"))))

	ents, err := filepath.Glob(filepath.Join(dir, "dead", "*.json"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("dead dir: %v, %d files, want 1", err, len(ents))
	}
	list, err := q.DeadLetters()
	if err != nil || len(list) != 1 {
		t.Fatalf("DeadLetters: %v, %d entries", err, len(list))
	}
	dl := list[0]
	if dl.ID != it.ID || dl.Key != "K" || dl.Source != "mllp/main" || dl.Attrs["n"] != "1" ||
		dl.Attempts != 1 || dl.Died.IsZero() || !strings.Contains(dl.Reason, "HTTP 422") || dl.Body != nil || dl.Size != len(it.Body) {
		t.Fatalf("dead letter listing %+v", dl)
	}
	full, err := q.DeadLetter(it.ID)
	if err != nil || !bytes.Equal(full.Body, it.Body) {
		t.Fatalf("DeadLetter: %v, body %q", err, full.Body)
	}
	if s := q.Stats(); s.DeadLetters != 1 || s.Depth != 1 {
		t.Fatalf("Stats %+v, want 1 dead letter and depth 1", s)
	}
	if _, err := q.DeadLetter("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeadLetter(unknown): %v, want ErrNotFound", err)
	}

	// Retry puts it back with the same ID and removes the dead letter.
	if err := q.Retry(context.Background(), it.ID); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if s := q.Stats(); s.DeadLetters != 0 || s.Depth != 2 {
		t.Fatalf("Stats after Retry %+v", s)
	}
	closeQ(t, q)

	// The retried item survives a restart (it is not mistaken for the
	// dead-lettered original) and comes after the item put before it.
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	if n := q.Len(); n != 2 {
		t.Fatalf("Len after reopen = %d, want 2", n)
	}
	got, a := get(t, q)
	if got.ID != other.ID {
		t.Fatalf("first item %s, want %s", got.ID, other.ID)
	}
	ack(t, a, nil)
	got, a = get(t, q)
	if got.ID != it.ID || !bytes.Equal(got.Body, it.Body) || got.Attempts != 0 {
		t.Fatalf("retried item %+v", got)
	}
	ack(t, a, queue.Permanent(errors.New("still bad")))

	// Purge deletes a dead letter, then an unleased pending item.
	if err := q.Purge(context.Background(), it.ID); err != nil {
		t.Fatalf("Purge dead letter: %v", err)
	}
	if list, _ := q.DeadLetters(); len(list) != 0 {
		t.Fatalf("%d dead letters after Purge", len(list))
	}
	p := put(t, q, "", 3)
	if err := q.Purge(context.Background(), p.ID); err != nil {
		t.Fatalf("Purge pending: %v", err)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("Len after Purge = %d", n)
	}
	if err := q.Purge(context.Background(), p.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Purge: %v, want ErrNotFound", err)
	}
}

// TestDeadLetterBeforeAckRecord covers a crash after the dead letter was
// written but before its ACK record: the item must not come back.
func TestDeadLetterBeforeAckRecord(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	it := put(t, q, "", 1)
	_, _ = get(t, q)
	q.mu.Lock()
	seq := q.lowSeq
	q.mu.Unlock()
	if err := q.dead.write(&DeadLetter{ID: it.ID, Seq: seq, Body: it.Body, Reason: "rejected"}); err != nil {
		t.Fatal(err)
	}
	closeQ(t, q) // the lease is lost, as in a crash

	q = open(t, dir, Options{})
	defer closeQ(t, q)
	if n := q.Len(); n != 0 {
		t.Fatalf("Len = %d, want 0: a dead-lettered item came back", n)
	}
	if s := q.Stats(); s.DeadLetters != 1 {
		t.Fatalf("DeadLetters = %d, want 1", s.DeadLetters)
	}
}

func TestTornTailTruncated(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, path string, size int64)
		wantLen int
	}{
		{"garbage appended", func(t *testing.T, path string, size int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			// a header announcing 500 bytes, then only 20 of them
			f.Write([]byte{0xf4, 0x01, 0, 0, 1, 2, 3, 4, recPut})
			f.Write(bytes.Repeat([]byte{0xab}, 20))
			f.Close()
		}, 3},
		{"last record cut short", func(t *testing.T, path string, size int64) {
			if err := os.Truncate(path, size-10); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"zeros appended", func(t *testing.T, path string, size int64) {
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(make([]byte, 4096))
			f.Close()
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := open(t, dir, Options{})
			var items []*queue.Item
			for i := range 3 {
				items = append(items, put(t, q, "", i))
			}
			closeQ(t, q)
			segs := segFiles(t, dir)
			last := segs[len(segs)-1]
			st, _ := os.Stat(last)
			tc.damage(t, last, st.Size())

			var logs logBuf
			q = open(t, dir, Options{Logger: logs.logger()})
			if n := q.Len(); n != tc.wantLen {
				t.Fatalf("Len = %d, want %d", n, tc.wantLen)
			}
			if s := q.Stats(); s.Corrupt != 0 {
				t.Fatalf("Corrupt = %d for a torn tail, want 0", s.Corrupt)
			}
			if tc.name == "zeros appended" {
				// Zeros are the pre-zeroed space every unclean stop
				// leaves: trimmed at INFO, no alarm.
				if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "no record lost") || strings.Contains(logs.String(), "level=WARN") {
					t.Fatalf("zero tail not logged as trimmed space at INFO: %s", logs.String())
				}
			} else if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "torn tail") {
				t.Fatalf("torn tail not logged: %s", logs.String())
			}
			put(t, q, "", 9)
			closeQ(t, q)

			q = open(t, dir, Options{})
			defer closeQ(t, q)
			if n := q.Len(); n != tc.wantLen+1 {
				t.Fatalf("Len after append and reopen = %d, want %d", n, tc.wantLen+1)
			}
			for i := range tc.wantLen {
				got, a := get(t, q)
				if got.ID != items[i].ID || !bytes.Equal(got.Body, items[i].Body) {
					t.Fatalf("item %d: got %s", i, got.ID)
				}
				ack(t, a, nil)
			}
		})
	}
}

func TestMidCorruptionSkipped(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	var items []*queue.Item
	for i := range 3 {
		items = append(items, put(t, q, "", i))
	}
	q.mu.Lock()
	m := q.items[q.lowSeq+1]
	path, off := m.seg.path, m.off+m.size-5
	q.mu.Unlock()
	closeQ(t, q)

	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{'#'}, off)
	f.Close()

	var logs logBuf
	q = open(t, dir, Options{Logger: logs.logger()})
	defer closeQ(t, q)
	if n := q.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2 (the corrupt item skipped)", n)
	}
	if s := q.Stats(); s.Corrupt != 1 {
		t.Fatalf("Corrupt = %d, want 1", s.Corrupt)
	}
	out := logs.String()
	if !strings.Contains(out, "corrupt") || !strings.Contains(out, "crc32c") {
		t.Fatalf("corruption not reported with its reason: %s", out)
	}
	if strings.Contains(out, "DOE") || strings.Contains(out, "MRN") {
		t.Fatalf("log contains PHI: %s", out)
	}
	for _, want := range []*queue.Item{items[0], items[2]} {
		got, a := get(t, q)
		if got.ID != want.ID || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("got %s, want %s", got.ID, want.ID)
		}
		ack(t, a, nil)
	}
}

// TestCorruptionAfterOpen damages a record while the queue is open: Get
// must not return garbage; the item becomes a dead-letter stub.
func TestCorruptionAfterOpen(t *testing.T) {
	dir := t.TempDir()
	var logs logBuf
	q := open(t, dir, Options{Logger: logs.logger()})
	defer closeQ(t, q)
	bad := put(t, q, "", 1)
	good := put(t, q, "", 2)
	q.mu.Lock()
	m := q.items[q.lowSeq]
	path, off := m.seg.path, m.off+m.size-3
	q.mu.Unlock()
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte{0}, off)
	f.Close()

	got, a := get(t, q)
	if got.ID != good.ID {
		t.Fatalf("Get returned %s, want the intact item %s", got.ID, good.ID)
	}
	ack(t, a, nil)
	dl, err := q.DeadLetter(bad.ID)
	if err != nil || !dl.Corrupt {
		t.Fatalf("dead-letter stub: %v %+v", err, dl)
	}
	if err := q.Retry(context.Background(), bad.ID); err == nil {
		t.Fatal("Retry of a corrupt stub succeeded")
	}
	if strings.Contains(logs.String(), "DOE") {
		t.Fatalf("log contains PHI: %s", logs.String())
	}
}

func TestSegmentsRotateAndCompact(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 4096})
	var ids []string
	for i := range 100 {
		ids = append(ids, put(t, q, fmt.Sprintf("k%d", i%3), i).ID)
	}
	if n := len(segFiles(t, dir)); n < 5 {
		t.Fatalf("%d segments for 100 items of ~260 bytes at 4 KiB, want rotation", n)
	}
	closeQ(t, q)
	q = open(t, dir, Options{SegmentBytes: 4096})
	for range 100 {
		_, a := get(t, q)
		ack(t, a, nil)
	}
	if err := q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	put(t, q, "", 1000) // a commit after the acks triggers compaction
	if n := len(segFiles(t, dir)); n > 2 {
		t.Fatalf("%d segment files left after settling everything, want at most 2", n)
	}
	s := q.Stats()
	if s.Depth != 1 || s.DiskBytes > 3*4096 {
		t.Fatalf("Stats after compaction %+v", s)
	}
	closeQ(t, q)

	// Sequence numbers go on after the old segments are gone, so old
	// ACK records or dead letters can never match a new item.
	q = open(t, dir, Options{SegmentBytes: 4096})
	defer closeQ(t, q)
	q.mu.Lock()
	next := q.nextSeq
	q.mu.Unlock()
	if next <= 101 {
		t.Fatalf("nextSeq = %d after 101 puts, want > 101", next)
	}
	if n := q.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	closeQ(t, q)
	q = open(t, dir, Options{})
	closeQ(t, q)
}

// TestInUse: InUse tells an open queue from a closed one (`ferry status`
// beside a gateway without a status page), and asking leaves the queue
// free to open.
func TestInUse(t *testing.T) {
	dir := t.TempDir()
	if inUse, err := InUse(dir); err != nil || inUse {
		t.Fatalf("never opened: InUse = %v, %v", inUse, err)
	}
	q := open(t, dir, Options{})
	if inUse, err := InUse(dir); err != nil || !inUse {
		t.Fatalf("open: InUse = %v, %v", inUse, err)
	}
	closeQ(t, q)
	if inUse, err := InUse(dir); err != nil || inUse {
		t.Fatalf("closed: InUse = %v, %v", inUse, err)
	}
	closeQ(t, open(t, dir, Options{}))
}

// TestGroupCommit checks that concurrent Puts share fsyncs and that all of
// them are stored.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	const producers, each = 16, 100
	var wg sync.WaitGroup
	ids := make(chan string, producers*each)
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				it := &queue.Item{Key: fmt.Sprintf("p%d", p), Body: fmt.Appendf(nil, "%d-%d", p, i)}
				if err := q.Put(context.Background(), it); err != nil {
					t.Error(err)
					return
				}
				ids <- it.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("duplicate ID %s", id)
		}
		seen[id] = true
	}
	commits := q.commits.Load()
	if commits >= producers*each {
		t.Fatalf("%d commits for %d concurrent puts: no group commit", commits, producers*each)
	}
	t.Logf("%d puts in %d commits", producers*each, commits)
	closeQ(t, q)

	q = open(t, dir, Options{})
	defer closeQ(t, q)
	if n := q.Len(); n != producers*each {
		t.Fatalf("Len after reopen = %d, want %d", n, producers*each)
	}
	// Per-producer (per-key) order survives the restart.
	next := map[string]int{}
	for range producers * each {
		it, a := get(t, q)
		want := fmt.Sprintf("%s-%d", it.Key[1:], next[it.Key])
		if string(it.Body) != want {
			t.Fatalf("key %s: got %s, want %s", it.Key, it.Body, want)
		}
		next[it.Key]++
		ack(t, a, nil)
	}
}

func TestAttemptsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	put(t, q, "", 1)
	for range 2 {
		_, a := get(t, q)
		ack(t, a, errors.New("HTTP 503"))
	}
	closeQ(t, q)
	q = open(t, dir, Options{})
	defer closeQ(t, q)
	got, a := get(t, q)
	if got.Attempts != 2 {
		t.Fatalf("Attempts after reopen = %d, want 2", got.Attempts)
	}
	ack(t, a, nil)
}

func TestInspectWhileOpen(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	defer closeQ(t, q)
	a1 := put(t, q, "", 1)
	put(t, q, "", 2)
	keep := put(t, q, "", 3)
	_, a := get(t, q)
	ack(t, a, nil)
	_, a = get(t, q)
	ack(t, a, queue.Permanent(errors.New("bad")))
	if err := q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap, err := Inspect(dir, "", 10)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if snap.Stats.Depth != 1 || snap.Stats.DeadLetters != 1 || len(snap.Pending) != 1 || snap.Pending[0].ID != keep.ID {
		t.Fatalf("Inspect = %+v", snap)
	}
	if snap.Stats.Oldest.IsZero() {
		t.Fatal("Inspect: Oldest not set")
	}
	dls, err := InspectDeadLetters(dir, "")
	if err != nil || len(dls) != 1 || dls[0].ID == a1.ID {
		t.Fatalf("InspectDeadLetters = %v, %+v", err, dls)
	}
	if s := q.Stats(); s.Depth != 1 || s.Bytes <= 0 || s.Oldest.IsZero() {
		t.Fatalf("Stats = %+v", s)
	}
}

// TestRelocationUnpinsSegments keeps one item unsettled in the oldest
// segment while many later ones are settled: after the next rotation it is
// copied forward and the old segments are deleted.
func TestRelocationUnpinsSegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4096}
	q := open(t, dir, opts)
	stuck := put(t, q, "", 0)
	_, ackStuck := get(t, q)
	for i := range 100 {
		put(t, q, "", i+1)
	}
	for range 100 {
		_, a := get(t, q)
		ack(t, a, nil)
	}
	if err := q.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	pinned := len(segFiles(t, dir))
	if pinned < 5 {
		t.Fatalf("%d segments; want the stuck item to pin several", pinned)
	}
	ack(t, ackStuck, errors.New("HTTP 503"))
	for i := range 20 {
		put(t, q, "later", 200+i)
	}
	if n := len(segFiles(t, dir)); n > 3 {
		t.Fatalf("%d segments left (were %d); the stuck item was not relocated", n, pinned)
	}
	closeQ(t, q)

	q = open(t, dir, opts)
	defer closeQ(t, q)
	if n := q.Len(); n != 21 {
		t.Fatalf("Len after reopen = %d, want 21", n)
	}
	got, a := get(t, q)
	if got.ID != stuck.ID || !bytes.Equal(got.Body, stuck.Body) || got.Attempts != 1 {
		t.Fatalf("relocated item: ID %s attempts %d, want %s with 1 attempt", got.ID, got.Attempts, stuck.ID)
	}
	ack(t, a, nil)
}

func TestDeadLetterDirOption(t *testing.T) {
	dir, deadDir := t.TempDir(), filepath.Join(t.TempDir(), "deadletter")
	q := open(t, dir, Options{DeadLetterDir: deadDir})
	defer closeQ(t, q)
	it := put(t, q, "", 1)
	_, a := get(t, q)
	ack(t, a, queue.Permanent(errors.New("HTTP 400")))
	ents, err := os.ReadDir(deadDir)
	if err != nil || len(ents) != 1 || !strings.Contains(ents[0].Name(), it.ID) {
		t.Fatalf("dead-letter dir: %v %v", err, ents)
	}
	dls, err := InspectDeadLetters(dir, deadDir)
	if err != nil || len(dls) != 1 || dls[0].ID != it.ID {
		t.Fatalf("InspectDeadLetters: %v %+v", err, dls)
	}
}

func TestPurgeKeepsKeyOrder(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	k1 := put(t, q, "K", 1)
	k2 := put(t, q, "K", 2)
	k3 := put(t, q, "K", 3)
	got, a := get(t, q)
	if got.ID != k1.ID {
		t.Fatalf("got %s, want K1", got.ID)
	}
	if err := q.Purge(context.Background(), k2.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Purge(context.Background(), k1.ID); err == nil {
		t.Fatal("Purge of a leased item succeeded")
	}
	if p := q.Pending(0); len(p) != 2 || !p[0].Leased || p[1].ID != k3.ID {
		t.Fatalf("Pending = %+v", p)
	}
	ack(t, a, nil)
	got, a = get(t, q)
	if got.ID != k3.ID {
		t.Fatalf("got %s, want K3", got.ID)
	}
	ack(t, a, nil)
}

// TestFlushLatency: every commit's fdatasync is timed.
func TestFlushLatency(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	defer closeQ(t, q)
	for range 3 {
		put(t, q, "k", 1)
	}
	if l := q.FlushLatency(); l.Count() < 1 || l.Count() > 3 || l.Sum <= 0 {
		t.Fatalf("flush latency %+v after 3 lone puts", l)
	}
}

// TestDeadLetterWriteFailsDelays: an item whose dead letter cannot be
// written (here the dead-letter folder is a file; in life a full disk) is
// kept, but not handed out again at once: it would go straight back to
// the exchange that has just refused it.
func TestDeadLetterWriteFailsDelays(t *testing.T) {
	dir := t.TempDir()
	deadDir := filepath.Join(t.TempDir(), "deadletter")
	q := open(t, dir, Options{DeadLetterDir: deadDir})
	defer closeQ(t, q)
	if err := os.RemoveAll(deadDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deadDir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	it := put(t, q, "", 1)
	_, a := get(t, q)
	if err := a(context.Background(), queue.Permanent(errors.New("HTTP 400"))); err == nil {
		t.Fatal("the dead letter was written into a file")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if got, _, err := q.Get(ctx); err == nil {
		t.Fatalf("item %s handed out again at once", got.ID)
	}
	if st := q.Stats(); st.Depth != 1 || st.Leased != 0 {
		t.Fatalf("item %s not kept: %+v", it.ID, st)
	}
}

// TestRetryKeepsNewerDeadLetter: Retry removes the dead letter it put
// back, not a newer one of the same item (delivered and refused again
// between Retry's Put and its removal).
func TestRetryKeepsNewerDeadLetter(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	defer closeQ(t, q)
	it := put(t, q, "", 1)
	_, a := get(t, q)
	ack(t, a, queue.Permanent(errors.New("HTTP 400")))
	old, err := q.dead.get(it.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The retried item, delivered and refused again: a newer dead letter.
	if err := q.Retry(context.Background(), it.ID); err != nil {
		t.Fatal(err)
	}
	_, a = get(t, q)
	ack(t, a, queue.Permanent(errors.New("HTTP 422")))
	// The first Retry's removal, had it come only now.
	if err := q.dead.removeSeq(it.ID, old.Seq); err != nil {
		t.Fatal(err)
	}
	dl, err := q.dead.get(it.ID)
	if err != nil || !strings.Contains(dl.Reason, "422") {
		t.Fatalf("the newer dead letter is gone: %v %+v", err, dl)
	}
}
