package folder

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue/queuetest"
)

// TestSeenFileFullDiskKeepsKeys: a seen-set whose file holds a key twice
// (an Add whose fsync failed, and the same file's retry that added it
// again) cut its file back, after a write the full disk refused, to the
// number of keys it knew rather than to the records the file held: the
// last key written before, fsynced and its file archived, was cut off,
// and after a restart the same content dropped again was sent again. The
// set now cuts back to the records it wrote.
func TestSeenFileFullDiskKeepsKeys(t *testing.T) {
	mnt, fill, free := queuetest.SmallDisk(t, 1<<20)
	path := filepath.Join(mnt, "seen.sha256")
	var data []byte
	key := func(i int) (k [32]byte) {
		k[0], k[1] = byte(i), 0xfe
		return k
	}
	first := key(0)
	data = append(data, first[:]...) // the Add whose fsync failed
	for i := range 127 {
		k := key(i)
		data = append(data, k[:]...)
	}
	// 128 records: the file ends at a page, so the next one needs a new
	// block, which the full disk refuses.
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSeenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fill()
	if err := s.Add(key(200)); err == nil {
		t.Fatal("Add on a full disk succeeded")
	}
	free()
	if err := s.Add(key(201)); err != nil {
		t.Fatalf("Add once there is room: %v", err)
	}
	s.Close()
	s, err = OpenSeenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 127 {
		if !s.Seen(key(i)) {
			t.Errorf("key %d, written before the disk filled, is not seen after a restart", i)
		}
	}
	if !s.Seen(key(201)) || s.Seen(key(200)) {
		t.Error("after a restart the set does not hold just the keys it added")
	}
}
