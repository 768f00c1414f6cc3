package folder

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWatchedFolderReplaced: the folder at path may stop being the one
// ferry opened at start while ferry runs: a share mounted over its
// mount point after ferry started (the empty folder beneath was opened),
// or an export job that removes its output folder and makes it again
// before each run. ferry kept listing the folder it had opened, and the
// files written to the one at path were never taken, with nothing in the
// status or the log to say so. It now sees the folder at path is
// another, finishes what it holds, and watches the new one.
func TestWatchedFolderReplaced(t *testing.T) {
	if runtime.GOOS == "windows" {
		// Windows refuses to rename or remove a folder a process holds
		// open (a sharing violation), so there the folder cannot be
		// replaced under ferry: the export job's step fails instead.
		t.Skip("Windows does not let a folder held open be renamed")
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "drop")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)
	dropFile(t, dir, "before.xml", []byte("<before/>"))
	waitFor(t, "before.xml in done/", doneHas(t, e, "before.xml"))

	// The export job's run: the folder away, a new one in its place.
	if err := os.Rename(dir, filepath.Join(parent, "drop.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	dropFile(t, dir, "after.xml", []byte("<after/>"))
	waitFor(t, "after.xml in done/", func() bool { e.Rescan(); return doneHas(t, e, "after.xml")() })
	if _, err := os.Stat(filepath.Join(dir, ".ferry", "processing")); err != nil {
		t.Errorf("no work folder in the new folder: %v", err)
	}
	if n := rec.count(); n != 2 {
		t.Errorf("consumed %d files, want 2", n)
	}

	// No folder at path for a while (a share unmounted, its mount point
	// gone): the folder shows as stuck until one is there again.
	if err := os.Rename(dir, filepath.Join(parent, "drop.old2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the folder shown as stuck", func() bool { e.Rescan(); return e.Stats().ClaimsFailing })
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the folder no longer stuck", func() bool { e.Rescan(); return !e.Stats().ClaimsFailing })
	// The change events of the new folder reach ferry.
	before := e.events.Load()
	dropFile(t, dir, "third.xml", []byte("<third/>"))
	waitFor(t, "third.xml's change event", func() bool { return e.events.Load() > before })
	waitFor(t, "third.xml in done/", doneHas(t, e, "third.xml"))
}
