package diskq

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSegmentHeldOpenIsRemovedLater: a settled segment that cannot be
// removed when the queue compacts (on Windows any other open of the file,
// `ferry queue inspect`, a backup agent or a virus scanner reading it,
// makes the delete fail with a sharing violation) is removed at a later
// compaction, and no newer segment is removed before it: a newer one
// holds the ACK records of its items, and without them the settled items
// would come back at the next start and be delivered a second time.
func TestSegmentHeldOpenIsRemovedLater(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4096}
	q := open(t, dir, opts)
	for i := range 40 {
		put(t, q, "", i)
	}
	closeQ(t, q)
	first := segFiles(t, dir)[0]

	q = open(t, dir, opts)
	held, err := os.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		_, a := get(t, q)
		ack(t, a, nil)
	}
	put(t, q, "", 1000) // a commit after the acks compacts
	// More items and their acks, enough to fill and retire the segments
	// that hold the ACK records of the first 40.
	for i := range 60 {
		put(t, q, "", 2000+i)
		_, a := get(t, q)
		ack(t, a, nil)
	}
	held.Close()
	// The next compaction that retires a segment removes the released one.
	for i := range 60 {
		put(t, q, "", 4000+i)
		_, a := get(t, q)
		ack(t, a, nil)
	}
	put(t, q, "", 3000)
	closeQ(t, q)
	if _, err := os.Stat(first); err == nil {
		t.Errorf("%s is still there after the compaction that followed its release", filepath.Base(first))
	}

	q = open(t, dir, opts)
	defer closeQ(t, q)
	if n := q.Len(); n != 2 {
		t.Fatalf("Len = %d after reopening, want 2 (the two newest, never taken): settled items came back", n)
	}
}
