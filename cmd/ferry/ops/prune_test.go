package ops

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPruneOutboxKeepsOthersFiles: retention.outbox deletes the bundle
// files ferry wrote (<item id>.json, the id a ULID in upper case), not
// every old *.json in the folder: the program that picks the bundles up
// keeps its own there (a cursor, a processed-list, a copy renamed after
// its patient), which are not ferry's to delete.
func TestPruneOutboxKeepsOthersFiles(t *testing.T) {
	out := t.TempDir()
	old := time.Now().Add(-40 * 24 * time.Hour)
	mine := []string{"01J5Z8Q4V7R2M3N6P9T0W1X2Y3.json", "01KB0000000000000000000000.json"}
	theirs := []string{"cursor.json", "reader-state.json", "Smith_John_2026-01-02.json",
		"01J5Z8Q4V7R2M3N6P9T0W1X2Y3.copy.json", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ.json"}
	for _, f := range append(append([]string{}, mine...), theirs...) {
		p := filepath.Join(out, f)
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	n, err := PruneOldFiles(context.Background(), out, time.Now().Add(-30*24*time.Hour))
	if err != nil || n != len(mine) {
		t.Errorf("pruned %d files (%v), want %d", n, err, len(mine))
	}
	for _, f := range mine {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("ferry's %s kept", f)
		}
	}
	for _, f := range theirs {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s, not ferry's, removed", f)
		}
	}
}
