package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func rec(i int) []byte { return []byte(fmt.Sprintf("record %04d %0100d", i, i)) }

func peekAll(t *testing.T, s *spool) []string {
	t.Helper()
	msgs, err := s.Peek(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m)
	}
	return out
}

// TestSpoolOrderAcrossReopen: records come back in append order, partial
// consumption is remembered across a reopen, and a fully consumed spool
// leaves no segments.
func TestSpoolOrderAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 4096) // 512-byte segments: several files
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := s.Append([][]byte{rec(i)}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.Peek(7)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Consume(first); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = openSpool(dir, 4096)
	if err != nil {
		t.Fatal(err)
	}
	got := peekAll(t, s)
	if len(got) != 13 || got[0] != string(rec(7)) || got[12] != string(rec(19)) {
		t.Fatalf("after reopen: %d records, first %q", len(got), got[0])
	}
	if _, err := s.Append([][]byte{rec(20)}); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Peek(100)
	if err := s.Consume(all); err != nil {
		t.Fatal(err)
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 0 || s.Len() != 0 {
		t.Errorf("consumed spool keeps %v", segs)
	}
	s, err = openSpool(dir, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 {
		t.Errorf("reopened empty spool has %d records", s.Len())
	}
	if _, err := s.Append([][]byte{rec(21)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = openSpool(dir, 4096)
	if got := peekAll(t, s); len(got) != 1 || got[0] != string(rec(21)) {
		t.Errorf("after empty-then-append: %q", got)
	}
}

// TestSpoolTornTail: bytes of a record cut short by a crash are discarded
// on open, and later appends are readable.
func TestSpoolTornTail(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSpool(dir, 1<<20)
	if _, err := s.Append([][]byte{rec(0), rec(1)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	sort.Strings(segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 50, 1, 2, 3, 4, 'p', 'a', 'r'})
	f.Close()
	s, err = openSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() // Windows cannot remove the temporary folder while a segment is open
	if _, err := s.Append([][]byte{rec(2)}); err != nil {
		t.Fatal(err)
	}
	got := peekAll(t, s)
	if len(got) != 3 || got[2] != string(rec(2)) {
		t.Errorf("after torn tail: %q", got)
	}
}

// TestSpoolBound: past its bound the spool drops whole oldest segments,
// reports how many records went, and keeps the newest in order.
func TestSpoolBound(t *testing.T) {
	s, _ := openSpool(t.TempDir(), 2048)
	defer s.Close()
	dropped := 0
	for i := range 100 {
		n, err := s.Append([][]byte{rec(i)})
		if err != nil {
			t.Fatal(err)
		}
		dropped += n
		if s.Bytes() > 2048 {
			t.Fatalf("spool at %d bytes after record %d", s.Bytes(), i)
		}
	}
	got := peekAll(t, s)
	if dropped == 0 || dropped+len(got) != 100 {
		t.Fatalf("dropped %d, kept %d", dropped, len(got))
	}
	for k, m := range got {
		if m != string(rec(dropped+k)) {
			t.Fatalf("record %d is %q, want %q", k, m, rec(dropped+k))
		}
	}
}

// TestSpoolRotationSyncsFullSegment: an Append whose records fill one
// segment and go on in a new one fsyncs both files before it returns.
// Only the new segment was synced: the records written to the full one
// sat in the page cache, and a power cut took them although Append had
// reported them spooled (and openSpool then cut them off).
func TestSpoolRotationSyncsFullSegment(t *testing.T) {
	s, err := openSpool(t.TempDir(), 4096) // 512-byte segments
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	synced := map[string]bool{}
	s.syncHook = func(name string) { synced[name] = true }
	batch := make([][]byte, 12) // 12 × 119 bytes: three segments
	for i := range batch {
		batch[i] = rec(i)
	}
	if _, err := s.Append(batch); err != nil {
		t.Fatal(err)
	}
	if len(s.segs) < 2 {
		t.Fatalf("the batch filled %d segment(s); the test needs it to rotate", len(s.segs))
	}
	for _, g := range s.segs {
		if !synced[segName(g.seq)] {
			t.Errorf("segment %s holds %d records of the batch and was not fsynced (synced: %v)", segName(g.seq), g.records, synced)
		}
	}
}
