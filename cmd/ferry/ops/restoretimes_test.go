package ops

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRestoreKeepsFileTimes: a restored file had the time of the restore
// as its modification time, though the archive holds each file's, so the
// daily pass of retention.outbox, which deletes the outbox's bundle files
// older than the setting by that time, kept every restored one for the
// whole setting again: a bundle due for deletion (patient data in clear
// for the outbox's reader) stayed weeks after its term. Restore gives
// each file the time the archive has for it.
func TestRestoreKeepsFileTimes(t *testing.T) {
	dir := gatewayDataDir(t)
	old := filepath.Join(dir, "outbox", "01J9Z8Y7X6W5V4T3S2R1Q0P9N8.json")
	if err := os.WriteFile(old, []byte(`{"resourceType":"Bundle"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-40 * 24 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := WriteBackup(&buf, BackupOptions{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "ferry-data")
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), to); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(to, "outbox", filepath.Base(old))
	if fi, err := os.Stat(restored); err != nil || !fi.ModTime().Equal(then) {
		t.Errorf("restored with modification time %v (%v), backed up with %v", fi.ModTime(), err, then)
	}
	// retention.outbox: 720h deletes it at the next pass, as it would have
	// on the machine backed up.
	n, err := PruneOldFiles(context.Background(), filepath.Join(to, "outbox"), time.Now().Add(-30*24*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("the outbox's pass after the restore removed %d files (%v), want the one 40 days old", n, err)
	}
}
