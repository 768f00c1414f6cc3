package ops

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestRestoreIntoNewDisk: the root of a disk formatted with ext4 holds
// lost+found, the file system's folder for what fsck recovers. Restore
// took it for data and refused the disk ("not empty ... move it aside
// first"); it now restores beside it, and keeps it.
func TestRestoreIntoNewDisk(t *testing.T) {
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
	if err := os.Mkdir(filepath.Join(mnt, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), mnt); err != nil {
		t.Fatal(err)
	}
	if got := queuedBodies(t, mnt); len(got) != 3 {
		t.Errorf("restored into the new disk: %d items", len(got))
	}
	if fi, err := os.Stat(filepath.Join(mnt, "lost+found")); err != nil || !fi.IsDir() {
		t.Errorf("lost+found: %v", err)
	}
	// A data folder that holds anything else is still refused.
	os.RemoveAll(filepath.Join(mnt, "queue"))
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), mnt); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a folder with data: %v", err)
	}
}
