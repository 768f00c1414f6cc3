package merges

import (
	"os"
	"path/filepath"
	"testing"
)

// TestZeroFilledTailCutOff: a crash mid-append on a file system that
// had made the file longer but not yet written the record's blocks
// (XFS, ext4 data=writeback) leaves the last record as zeros. It was
// never acknowledged, like any torn tail: Open cuts it off and keeps the
// merges before it, instead of refusing to open (which stops the gateway
// until someone restores the file from a backup it does not have).
func TestZeroFilledTailCutOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	mustRecord(t, r, "A", "B")
	r.Close()
	whole, _ := os.ReadFile(path)
	r = mustOpen(t, path, Options{})
	mustRecord(t, r, "X", "Y")
	r.Close()
	full, _ := os.ReadFile(path)
	// The second record's bytes, as the disk left them: zeros, whole or
	// in part (a record spanning two blocks, one of them written).
	for _, zeroFrom := range []int{len(whole), len(whole) + 4, len(whole) + 12} {
		data := append([]byte(nil), full...)
		clear(data[zeroFrom:])
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("zeros from %d: Open: %v", zeroFrom, err)
		}
		if _, ok := survivor(t, r, "X"); ok {
			t.Errorf("zeros from %d: the torn record's merge is known", zeroFrom)
		}
		if got, _ := survivor(t, r, "A"); got != "B" {
			t.Errorf("zeros from %d: A resolves to %q", zeroFrom, got)
		}
		mustRecord(t, r, "P", "Q")
		r.Close()
		r = mustOpen(t, path, Options{})
		if got, _ := survivor(t, r, "P"); got != "Q" {
			t.Errorf("zeros from %d: the record written after the cut is lost", zeroFrom)
		}
		r.Close()
	}
}
