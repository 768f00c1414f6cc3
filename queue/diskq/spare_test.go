package diskq

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// waitSpare waits until q has a spare segment ready.
func waitSpare(t *testing.T, q *Queue) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !q.spareReady() {
		if time.Now().After(deadline) {
			t.Fatal("no spare segment prepared")
		}
		time.Sleep(time.Millisecond)
	}
}

// putUntil puts items until done says so, and returns their ids.
func putUntil(t *testing.T, q *Queue, first int, done func(end int64, segs int) bool) []string {
	t.Helper()
	var ids []string
	for {
		q.wmu.Lock()
		end := q.cur.wend
		q.wmu.Unlock()
		q.mu.Lock()
		segs := len(q.segs)
		q.mu.Unlock()
		if done(end, segs) {
			return ids
		}
		ids = append(ids, put(t, q, "", first+len(ids)).ID)
		if len(ids) > 100000 {
			t.Fatal("the segment does not fill")
		}
	}
}

// TestSpareSegment checks that the spare is made once the newest segment
// is half full (not at Open), that the rotation goes into it (the same
// file, zeroed to the size a segment reaches, so the writer zeroes
// nothing while producers wait), that the next spare follows the same
// way, that every item is there after a reopen, and that Close leaves no
// spare behind.
func TestSpareSegment(t *testing.T) {
	dir := t.TempDir()
	var logs logBuf
	opts := Options{SegmentBytes: 64 << 10, Logger: logs.logger()}
	q := open(t, dir, opts)
	spare := filepath.Join(dir, spareName)
	half := opts.SegmentBytes / 2

	ids := putUntil(t, q, 0, func(end int64, _ int) bool { return end >= half/2 })
	time.Sleep(50 * time.Millisecond)
	if _, err := os.Stat(spare); !os.IsNotExist(err) {
		t.Fatalf("a spare while the segment is a quarter full: %v", err)
	}
	ids = append(ids, putUntil(t, q, len(ids), func(end int64, _ int) bool { return end >= half })...)
	waitSpare(t, q)
	before, err := os.Stat(spare)
	if err != nil {
		t.Fatal(err)
	}
	if want := opts.SegmentBytes + prezeroChunk; before.Size() != want {
		t.Fatalf("spare is %d bytes, want %d", before.Size(), want)
	}
	b, err := os.ReadFile(spare)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) {
		t.Fatal("spare holds bytes other than zeros")
	}

	ids = append(ids, putUntil(t, q, len(ids), func(_ int64, segs int) bool { return segs == 2 })...)
	q.spare.mu.Lock()
	taken := q.spare.taken
	q.spare.mu.Unlock()
	if taken != 1 {
		t.Fatalf("%d rotations into the spare, want 1; log:\n%s", taken, logs.String())
	}
	segs := segFiles(t, dir)
	after, err := os.Stat(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	// Windows' SameFile opens the first file by its name again, which
	// the rename took away.
	if runtime.GOOS != "windows" && !os.SameFile(before, after) {
		t.Fatal("the new segment is not the spare")
	}
	q.wmu.Lock()
	zeroEnd, limit := q.cur.zeroEnd, opts.SegmentBytes+prezeroChunk
	q.wmu.Unlock()
	if zeroEnd != limit {
		t.Fatalf("segment from the spare is zeroed to %d, want %d", zeroEnd, limit)
	}
	// The next spare comes when the new segment is half full.
	ids = append(ids, putUntil(t, q, len(ids), func(end int64, _ int) bool { return end >= half })...)
	waitSpare(t, q)
	closeQ(t, q)
	if _, err := os.Stat(spare); !os.IsNotExist(err) {
		t.Fatalf("spare left after Close: %v", err)
	}
	if l := logs.String(); l != "" {
		t.Fatalf("the queue logged:\n%s", l)
	}

	logs = logBuf{}
	q = open(t, dir, opts)
	defer closeQ(t, q)
	if l := logs.String(); l != "" {
		t.Fatalf("reopen logged:\n%s", l)
	}
	for _, id := range ids {
		it, a := get(t, q)
		if it.ID != id {
			t.Fatalf("got %s, want %s", it.ID, id)
		}
		ack(t, a, nil)
	}
}

// TestSpareLeftByCrash: a kill -9 leaves the spare, perhaps part
// written, perhaps with a header written into it just before the rename.
// Open removes it without a word; replay never takes it for a segment.
func TestSpareLeftByCrash(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{NoSpare: true})
	for n := range 5 {
		put(t, q, "", n)
	}
	closeQ(t, q)
	junk := append(segHeader(99), bytes.Repeat([]byte("junk"), 1000)...)
	if err := os.WriteFile(filepath.Join(dir, spareName), junk, 0o600); err != nil {
		t.Fatal(err)
	}

	var logs logBuf
	q = open(t, dir, Options{Logger: logs.logger()})
	defer closeQ(t, q)
	if _, err := os.Stat(filepath.Join(dir, spareName)); !os.IsNotExist(err) {
		t.Fatalf("the spare left by the crash is still there: %v", err)
	}
	if q.Len() != 5 || q.Stats().Corrupt != 0 {
		t.Fatalf("Len %d, corrupt %d after a spare was left; want 5, 0", q.Len(), q.Stats().Corrupt)
	}
	if l := logs.String(); strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
		t.Fatalf("Open logged:\n%s", l)
	}
}

// TestSpareCrashImage: the files as a kill -9 leaves them just after a
// rotation into the spare (the new segment is the spare's zeros with a
// header and a few records) replay every committed item and report
// nothing damaged.
func TestSpareCrashImage(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 64 << 10}
	q := open(t, dir, opts)
	want := map[string]bool{}
	add := func(ids []string) {
		for _, id := range ids {
			want[id] = true
		}
	}
	add(putUntil(t, q, 0, func(end int64, _ int) bool { return end >= opts.SegmentBytes/2 }))
	waitSpare(t, q)
	add(putUntil(t, q, len(want), func(_ int64, segs int) bool { return segs == 2 }))
	for n := range 3 {
		want[put(t, q, "", 1000+n).ID] = true
	}
	crash := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crash, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	closeQ(t, q)

	var logs logBuf
	opts.Logger = logs.logger()
	q = open(t, crash, opts)
	defer closeQ(t, q)
	if l := logs.String(); strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
		t.Fatalf("crash image logged:\n%s", l)
	}
	if q.Len() != len(want) {
		t.Fatalf("crash image Len = %d, want %d", q.Len(), len(want))
	}
	for range len(want) {
		it, a := get(t, q)
		if !want[it.ID] {
			t.Fatalf("unexpected item %s", it.ID)
		}
		delete(want, it.ID)
		ack(t, a, nil)
	}
}
