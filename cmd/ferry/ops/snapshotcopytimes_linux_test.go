package ops

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue/diskq"
)

// TestSnapshotCopyKeepsFileTimes: a running gateway's snapshot copies
// the files it cannot link (every file on Windows; here the outbox on a
// disk of its own, which a hard link cannot reach), and a copy had the
// time of the backup as its modification time: restored, each outbox
// bundle file counted its age under retention.outbox from the backup,
// and one due for deletion stayed the whole setting again. The copy now
// keeps the file's time. Run as root only (it mounts a tmpfs).
func TestSnapshotCopyKeepsFileTimes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	outbox := filepath.Join(data, "outbox")
	if err := os.MkdirAll(outbox, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", outbox, "tmpfs", 0, "size=4m,mode=0750"); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skip("mounting needs root:", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(outbox, syscall.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	old := filepath.Join(outbox, "01J9Z8Y7X6W5V4T3S2R1Q0P9N8.json")
	if err := os.WriteFile(old, []byte(`{"resourceType":"Bundle"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-40 * 24 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	s, err := TakeSnapshot(data, func(fn func([]diskq.Extent) error) error { return fn(nil) })
	if err != nil {
		t.Fatal(err)
	}
	defer removeSnapshot(data, s.ID)
	if s.Copied != 1 {
		t.Fatalf("snapshot linked %d and copied %d files; want the outbox's copied", s.Linked, s.Copied)
	}
	var buf bytes.Buffer
	if _, err := WriteBackup(&buf, BackupOptions{DataDir: data, Root: s.Dir, Sizes: s.Sizes(), Skipped: s.Skipped}); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "ferry-data")
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), to); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(to, "outbox", filepath.Base(old)))
	if err != nil || !fi.ModTime().Equal(then) {
		t.Errorf("restored with modification time %v (%v), backed up with %v", fi.ModTime(), err, then)
	}
}
