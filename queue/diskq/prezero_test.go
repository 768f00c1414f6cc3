package diskq

import (
	"bytes"
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
	if st.Size() < size+prezeroBytes/2 {
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

	q = open(t, crash, Options{})
	defer closeQ(t, q)
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
