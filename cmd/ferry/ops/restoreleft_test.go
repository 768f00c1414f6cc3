package ops

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRestoreAfterUnfinishedRestore: a restore that did not finish
// (killed, or the machine went down) leaves the folder it unpacked into,
// every waiting patient's data: inside an existing data_dir, the next
// restore refused the folder as "not empty ... move it aside first",
// naming nothing (a mount point cannot be moved aside), and beside a new
// one it stayed for good, which nothing removed. The next restore now
// names the one inside and how to clear it, and removes one beside that
// is more than a day old, as restore --check does with its own.
func TestRestoreAfterUnfinishedRestore(t *testing.T) {
	var buf bytes.Buffer
	if _, err := WriteBackup(&buf, BackupOptions{DataDir: gatewayDataDir(t)}); err != nil {
		t.Fatal(err)
	}
	// Inside an existing data_dir.
	to := filepath.Join(t.TempDir(), "ferry-data")
	left := filepath.Join(to, ".ferry-restore-0123456789ab")
	if err := os.MkdirAll(filepath.Join(left, "data", "quarantine"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := RestoreBackup(bytes.NewReader(buf.Bytes()), to)
	if err == nil || !strings.Contains(err.Error(), left) || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("restore into a data_dir holding an unfinished restore's folder: %v", err)
	}

	// Beside a new one.
	parent := t.TempDir()
	old := filepath.Join(parent, ".ferry-data.restore-0123456789ab")
	recent := filepath.Join(parent, ".ferry-data.restore-ba9876543210")
	for _, d := range []string{old, recent} {
		if err := os.MkdirAll(filepath.Join(d, "data", "quarantine"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-25 * time.Hour)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), filepath.Join(parent, "ferry-data")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the folder of a restore that stopped a day ago is still beside data_dir: %v", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("the folder of a restore that may still run was removed: %v", err)
	}
}
