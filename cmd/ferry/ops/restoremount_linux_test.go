package ops

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRestoreIntoMountPoint: a data_dir that is the mount point of a disk
// of its own (/var/lib/ferry on a second disk), empty, is restored into.
// The restore unpacked beside it and then removed the folder to rename
// its own into place: the removal of a mount point fails (EBUSY), and so
// did the restore, with no way round it but to restore elsewhere and
// copy. Run as root only (it mounts a tmpfs).
func TestRestoreIntoMountPoint(t *testing.T) {
	var buf bytes.Buffer
	if _, err := WriteBackup(&buf, BackupOptions{DataDir: gatewayDataDir(t)}); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "ferry-data")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=16m,mode=0755"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skip("mounting needs root:", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), mnt); err != nil {
		t.Fatal(err)
	}
	if got := queuedBodies(t, mnt); len(got) != 3 {
		t.Errorf("restored into the mount point: %d items", len(got))
	}
	ents, _ := os.ReadDir(mnt)
	for _, e := range ents {
		if e.Name()[0] == '.' {
			t.Errorf("left in data_dir: %s", e.Name())
		}
	}
}
