package mllp

import (
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue/queuetest"
)

// TestSequenceStoreOpensOnFullDisk: a store whose log Open would rewrite
// (one line a stream once it has grown past twice the streams and 64,
// which every store of a sender speaking the sequence number protocol
// soon has) opens on a full disk. The rewrite needs a new file, and its
// failure stopped the gateway's start although the log serves as it is:
// its torn line, if any, is cut off in place and the rewrite waits for a
// later start.
func TestSequenceStoreOpensOnFullDisk(t *testing.T) {
	mnt, fill, free := queuetest.SmallDisk(t, 1<<20)
	path := filepath.Join(mnt, "mllp-sequence")
	st := openSeq(t, path)
	for i := range int64(100) {
		if err := st.Set("a", i+1); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	fill()
	st, err := OpenSequenceStore(path)
	if err != nil {
		t.Fatalf("open on a full disk: %v", err)
	}
	if n, ok := st.Last("a"); !ok || n != 100 {
		t.Fatalf("a = %d, %v on a full disk; want 100", n, ok)
	}
	// The log's last block still has room for a line.
	if err := st.Set("a", 101); err != nil {
		t.Fatal(err)
	}
	st.Close()
	free()
	st = openSeq(t, path)
	defer st.Close()
	if n, _ := st.Last("a"); n != 101 {
		t.Fatalf("a = %d after reopening, want 101", n)
	}
}
