package diskq

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/seal"
)

// TestSealedRecordTampered changes a byte of a sealed body and fixes the
// record's CRC, as someone editing the disk would: the GCM tag catches it
// and the item is dead-lettered as corrupt, while its neighbour is
// delivered. The records are of the sealed type and hold no plaintext.
func TestSealedRecordTampered(t *testing.T) {
	dir := t.TempDir()
	k, err := seal.GenerateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	q := open(t, dir, Options{Key: k, Logger: logs.logger()})
	defer closeQ(t, q)
	bad := put(t, q, "", 1)
	good := put(t, q, "", 2)

	q.mu.Lock()
	m := q.items[q.lowSeq]
	path, off, size := m.seg.path, m.off, m.size
	q.mu.Unlock()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, size)
	f.ReadAt(rec, off)
	if rec[8] != recPutSealed || bytes.Contains(rec, []byte(phi)) {
		t.Fatalf("record type %d, plaintext %v", rec[8], bytes.Contains(rec, []byte(phi)))
	}
	rec[len(rec)-20] ^= 1
	sealRecord(rec)
	f.WriteAt(rec, off)
	f.Close()

	got, a := get(t, q)
	if got.ID != good.ID || !strings.Contains(string(got.Body), phi) {
		t.Fatalf("Get returned %s, want the intact item %s", got.ID, good.ID)
	}
	ack(t, a, nil)
	dl, err := q.DeadLetter(bad.ID)
	if err != nil || !dl.Corrupt {
		t.Fatalf("dead-letter stub: %v %+v", err, dl)
	}
	if q.Stats().Corrupt != 1 {
		t.Fatalf("Corrupt = %d", q.Stats().Corrupt)
	}
	if strings.Contains(logs.String(), "DOE") {
		t.Fatalf("log contains PHI: %s", logs.String())
	}
}
