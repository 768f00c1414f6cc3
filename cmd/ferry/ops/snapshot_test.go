package ops

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/diskq"
)

// snapshotFixture makes a data folder with a few files in two stores and
// takes its snapshot (the freezer holds nothing: no queue runs here).
func snapshotFixture(t *testing.T) (data string, s *Snapshot) {
	t.Helper()
	data = filepath.Join(t.TempDir(), "data")
	for _, f := range []string{"dedup.log", "queue/dead/1-a.json", "queue/dead/2-b.json", "quarantine/q1.json", "site-id"} {
		p := filepath.Join(data, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("content of "+f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("/nowhere", filepath.Join(data, "outbox"))
	s, err := TakeSnapshot(data, func(fn func([]diskq.Extent) error) error { return fn(nil) })
	if err != nil {
		t.Fatal(err)
	}
	return data, s
}

// TestSnapshotArchive: a snapshot archives whole, the files cut at their
// noted sizes even when they grew since, and what it skipped is listed.
func TestSnapshotArchive(t *testing.T) {
	data, s := snapshotFixture(t)
	if len(s.Files) != 5 || !strings.HasPrefix(s.Dir, filepath.Join(data, SnapshotDir)) || s.ID == "" {
		t.Fatalf("snapshot: %+v", s)
	}
	f, _ := os.OpenFile(filepath.Join(data, "dedup.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(" and a record after the snapshot")
	f.Close()
	var b bytes.Buffer
	m, err := WriteBackup(&b, BackupOptions{DataDir: data, Root: s.Dir, Sizes: s.Sizes(), Skipped: s.Skipped})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if f.Path == "data/dedup.log" && f.Size != int64(len("content of dedup.log")) {
			t.Errorf("dedup.log archived with %d bytes, want the snapshot's %d", f.Size, len("content of dedup.log"))
		}
	}
	if runtime.GOOS != "windows" && !strings.Contains(strings.Join(m.Skipped, "\n"), "outbox: not a regular file") {
		t.Errorf("skipped: %v", m.Skipped)
	}
	if err := removeSnapshot(data, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, SnapshotDir)); !os.IsNotExist(err) {
		t.Errorf("the snapshot folder is left: %v", err)
	}
}

// TestSnapshotLetGo: an archive of a snapshot that ends under it (the
// gateway stopped or restarted and removed it, or the command's hold
// broke) fails, naming why, instead of writing a backup without the files
// that went: the stopped path's tolerance of vanished files does not
// apply to a snapshot.
func TestSnapshotLetGo(t *testing.T) {
	t.Run("removed", func(t *testing.T) {
		data, s := snapshotFixture(t)
		n := 0
		backupOpenHook = func(string) {
			if n++; n == 2 {
				RemoveSnapshot(data)
			}
		}
		defer func() { backupOpenHook = nil }()
		var b bytes.Buffer
		_, err := WriteBackup(&b, BackupOptions{DataDir: data, Root: s.Dir, Sizes: s.Sizes()})
		if !errors.Is(err, errAborted) {
			t.Fatalf("archive of a snapshot removed under it: %v", err)
		}
	})
	t.Run("a file gone", func(t *testing.T) {
		data, s := snapshotFixture(t)
		os.Remove(filepath.Join(s.Dir, "queue", "dead", "2-b.json"))
		var b bytes.Buffer
		_, err := WriteBackup(&b, BackupOptions{DataDir: data, Root: s.Dir, Sizes: s.Sizes()})
		if !errors.Is(err, errAborted) || !strings.Contains(err.Error(), "2-b.json") {
			t.Fatalf("archive of a snapshot missing a file: %v", err)
		}
	})
	t.Run("hold lost", func(t *testing.T) {
		data, s := snapshotFixture(t)
		abort := make(chan struct{})
		close(abort)
		var b bytes.Buffer
		_, err := WriteBackup(&b, BackupOptions{DataDir: data, Root: s.Dir, Sizes: s.Sizes(), Abort: abort})
		if !errors.Is(err, errAborted) {
			t.Fatalf("archive after the hold was lost: %v", err)
		}
	})
}

// TestSnapshotArchiveLeavesKeysOut: a key file kept in the data folder,
// linked into a running gateway's snapshot with the rest, stays out of
// the archive (listed as skipped) rather than failing it as a file gone
// from the snapshot.
func TestSnapshotArchiveLeavesKeysOut(t *testing.T) {
	data, s := snapshotFixture(t)
	var b bytes.Buffer
	m, err := WriteBackup(&b, BackupOptions{DataDir: data, Root: s.Dir, Sizes: s.Sizes(), Skipped: s.Skipped,
		Keys: []KeyFile{{Field: "sources.mailboxes[0].password_file", Path: filepath.Join(data, "quarantine", "q1.json")}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if f.Path == "data/quarantine/q1.json" {
			t.Error("the key file is in the archive")
		}
	}
	if !strings.Contains(strings.Join(m.Skipped, "\n"), "quarantine/q1.json: sources.mailboxes[0].password_file, a key") {
		t.Errorf("skipped: %v", m.Skipped)
	}
	removeSnapshot(data, s.ID)
}
