package dedup

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue/durable"
)

func key(i int) [32]byte {
	return KeyOf([]byte("HIS"), []byte("CLINIC"), fmt.Appendf(nil, "MSG%06d", i))
}

func mustOpen(t *testing.T, path string, opts Options) *Set {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustAdd(t *testing.T, s *Set, k [32]byte) {
	t.Helper()
	if err := s.Add(k); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

func TestKeyOfIsUnambiguous(t *testing.T) {
	if KeyOf([]byte("ab"), []byte("c")) == KeyOf([]byte("a"), []byte("bc")) {
		t.Fatal("KeyOf(ab, c) == KeyOf(a, bc)")
	}
	if KeyOf([]byte("x")) != KeyOf([]byte("x")) {
		t.Fatal("KeyOf is not deterministic")
	}
}

func TestAddSeenReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedup", "seen.db")
	s := mustOpen(t, path, Options{})
	for i := range 50 {
		if s.Seen(key(i)) {
			t.Fatalf("key %d seen before Add", i)
		}
		mustAdd(t, s, key(i))
		if !s.Seen(key(i)) {
			t.Fatalf("key %d not seen after Add", i)
		}
	}
	mustAdd(t, s, key(3)) // again: no new record
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(key(99)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v, want ErrClosed", err)
	}
	st, _ := os.Stat(path)
	if want := int64(headerLen + 50*recLen); st.Size() != want {
		t.Fatalf("file size %d, want %d (one record per distinct key)", st.Size(), want)
	}

	s = mustOpen(t, path, Options{})
	defer s.Close()
	if s.Len() != 50 {
		t.Fatalf("Len after reopen = %d, want 50", s.Len())
	}
	for i := range 50 {
		if !s.Seen(key(i)) {
			t.Fatalf("key %d lost over reopen", i)
		}
	}
	if s.Seen(key(50)) {
		t.Fatal("unknown key seen")
	}
}

func TestRetentionMaxKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen.db")
	s := mustOpen(t, path, Options{MaxKeys: 10})
	for i := range 100 {
		mustAdd(t, s, key(i))
	}
	if s.Len() != 10 {
		t.Fatalf("Len = %d, want 10", s.Len())
	}
	for i := range 100 {
		if s.Seen(key(i)) != (i >= 90) {
			t.Fatalf("Seen(key %d) = %v", i, s.Seen(key(i)))
		}
	}
	s.Close()

	s = mustOpen(t, path, Options{MaxKeys: 10})
	defer s.Close()
	if s.Len() != 10 || !s.Seen(key(99)) || s.Seen(key(89)) {
		t.Fatalf("after reopen: Len %d", s.Len())
	}
	st, _ := os.Stat(path)
	if want := int64(headerLen + 10*recLen); st.Size() != want {
		t.Fatalf("file not compacted on open: %d bytes, want %d", st.Size(), want)
	}
}

func TestRetentionMaxAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen.db")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := mustOpen(t, path, Options{MaxAge: 48 * time.Hour, Clock: clock})
	for i := range 5 {
		mustAdd(t, s, key(i))
	}
	now = now.Add(24 * time.Hour)
	for i := 5; i < 10; i++ {
		mustAdd(t, s, key(i))
	}
	s.Close()

	now = now.Add(36 * time.Hour) // day-0 keys are 60 h old, day-1 keys 36 h
	s = mustOpen(t, path, Options{MaxAge: 48 * time.Hour, Clock: clock})
	defer s.Close()
	for i := range 10 {
		if s.Seen(key(i)) != (i >= 5) {
			t.Fatalf("Seen(key %d) = %v after age retention", i, s.Seen(key(i)))
		}
	}
}

func TestTornTailAndCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen.db")
	s := mustOpen(t, path, Options{})
	for i := range 5 {
		mustAdd(t, s, key(i))
	}
	s.Close()

	data, _ := os.ReadFile(path)
	data[headerLen+2*recLen+7] ^= 0xff // damage record 2
	k9 := key(9)
	data = append(data, k9[:20]...) // and a torn append
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s = mustOpen(t, path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := range 5 {
		if s.Seen(key(i)) != (i != 2) {
			t.Fatalf("Seen(key %d) = %v", i, s.Seen(key(i)))
		}
	}
	if s.Seen(key(9)) {
		t.Fatal("a torn record counted as seen")
	}
	if !strings.Contains(logs.String(), "corrupt") || !strings.Contains(logs.String(), "torn tail") {
		t.Fatalf("damage not reported: %s", logs.String())
	}
	mustAdd(t, s, key(2))
	s.Close()

	s = mustOpen(t, path, Options{})
	defer s.Close()
	if s.Len() != 5 {
		t.Fatalf("Len = %d after repair and reopen, want 5", s.Len())
	}
	st, _ := os.Stat(path)
	if st.Size() != int64(headerLen+5*recLen) {
		t.Fatalf("file size %d: damage not rewritten", st.Size())
	}
}

func TestConcurrentAddGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen.db")
	s := mustOpen(t, path, Options{})
	const workers, each = 16, 100
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := s.Add(key(w*each + i)); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	syncs := s.syncs
	s.mu.Unlock()
	if syncs >= workers*each {
		t.Fatalf("%d syncs for %d concurrent adds: no group commit", syncs, workers*each)
	}
	t.Logf("%d adds in %d syncs", workers*each, syncs)
	s.Close()
	s = mustOpen(t, path, Options{})
	defer s.Close()
	if s.Len() != workers*each {
		t.Fatalf("Len after reopen = %d, want %d", s.Len(), workers*each)
	}
}

func TestOnlineCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen.db")
	s := mustOpen(t, path, Options{MaxKeys: 150})
	for i := range 800 {
		mustAdd(t, s, key(i))
	}
	st, _ := os.Stat(path)
	if st.Size() > int64(headerLen+2*150*recLen+recLen) {
		t.Fatalf("file grew to %d bytes with MaxKeys 150", st.Size())
	}
	s.Close()
	s = mustOpen(t, path, Options{MaxKeys: 150})
	defer s.Close()
	if s.Len() != 150 || !s.Seen(key(799)) || !s.Seen(key(650)) || s.Seen(key(649)) {
		t.Fatalf("after compaction and reopen: Len %d", s.Len())
	}
}

func BenchmarkAdd(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "seen.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range workers {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if err := s.Add(key(int(i))); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "adds/s")
		})
	}
}

func TestRememberIsFlushed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen.db")
	s := mustOpen(t, path, Options{})
	for i := range 500 {
		if err := s.Remember(key(i)); err != nil {
			t.Fatal(err)
		}
		if !s.Seen(key(i)) {
			t.Fatalf("key %d not seen right after Remember", i)
		}
	}
	mustAdd(t, s, key(1000)) // waits for its own record; the rest may still be in flight
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path, Options{})
	defer s.Close()
	if s.Len() != 501 {
		t.Fatalf("Len after Close and reopen = %d, want 501", s.Len())
	}
}

// TestCompactedFileReadsBack: a compacted file holds the 16 bytes of each
// key that memory keeps; opened again, it still knows exactly those keys.
func TestCompactedFileReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen.db")
	s := mustOpen(t, path, Options{})
	for i := range 40 {
		mustAdd(t, s, key(i))
	}
	s.Close()
	for round := range 2 { // compacts on the first open, reads the result on the second
		s = mustOpen(t, path, Options{MaxKeys: 20})
		for i := range 40 {
			if s.Seen(key(i)) != (i >= 20) {
				t.Fatalf("open %d: Seen(key %d) = %v", round+1, i, s.Seen(key(i)))
			}
		}
		s.Close()
	}
	if st, _ := os.Stat(path); st.Size() != int64(headerLen+20*recLen) {
		t.Fatalf("file is %d bytes, want %d", st.Size(), headerLen+20*recLen)
	}
}

// BenchmarkHeapPerKey reports what each remembered key costs in memory
// (live heap after a GC, divided by the keys).
//
//	go test ./queue/dedup -run '^$' -bench HeapPerKey -benchtime 100000x
func BenchmarkHeapPerKey(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "seen.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range b.N {
		if err := s.Remember(key(i)); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			s.background() // the 250 ms flush, at ~4,000 messages a second
		}
	}
	b.StopTimer()
	s.background()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heap-B/key")
}

// A key the retention pushed out and that is added again (a message resent
// after more than MaxKeys others) is the newest key, and a restart keeps
// it so: its first record, still in the file, does not put it back at
// the place it had before.
func TestReaddedKeyKeptAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen.db")
	s := mustOpen(t, path, Options{MaxKeys: 4})
	for i := range 5 { // key 0 pushed out by key 4
		mustAdd(t, s, key(i))
	}
	if s.Seen(key(0)) {
		t.Fatal("key 0 seen after 4 newer keys, with MaxKeys 4")
	}
	mustAdd(t, s, key(0)) // resent: the newest key, key 1 pushed out
	if !s.Seen(key(0)) || s.Seen(key(1)) {
		t.Fatalf("before the restart: Seen(key 0) = %v, Seen(key 1) = %v", s.Seen(key(0)), s.Seen(key(1)))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path, Options{MaxKeys: 4})
	defer s.Close()
	for i, want := range []bool{true, false, true, true, true} {
		if s.Seen(key(i)) != want {
			t.Errorf("after the restart: Seen(key %d) = %v, want %v", i, s.Seen(key(i)), want)
		}
	}
}

// A crash (kill -9, a power cut) while the file was compacted leaves the
// copy under its temporary name, as large as the file (44 MB at a million
// keys, gigabytes for backfill.seen); the next Open removes it, and only
// it.
func TestOpenRemovesCompactionLeftover(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seen.db")
	s := mustOpen(t, path, Options{})
	mustAdd(t, s, key(1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The rewrite's copy, written but not renamed when the process died:
	// under the name durable.Create gives it, with no handle left open
	// (the dead process's are closed; on Windows an open one, without
	// delete sharing, would keep it from being removed).
	p, err := durable.Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	leftover := p.Name()
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, []byte(magic), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, ".other.db.tmp-1") // another file's: not this set's to remove
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path, Options{})
	defer s.Close()
	if !s.Seen(key(1)) {
		t.Fatal("key lost")
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compaction's leftover %s still there after Open (%v)", filepath.Base(leftover), err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's temporary file removed: %v", err)
	}
}
