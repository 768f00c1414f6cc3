//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config"
)

// TestPruneFollowsNoSwappedWorkFolder: ferry holds a folder's work
// folder open from the start and deletes files only through it, so that
// someone who may write the watched folder and swaps .ferry for a folder
// of their own, its done/ a link to another place, redirects nothing
// (README). The daily retention pass pruned done/ by its path, and so
// removed the dated folders of whatever the link named (another
// system's dated archive) while the old ones of the real done/ stayed.
// It now prunes the done/ the running folder holds open.
func TestPruneFollowsNoSwappedWorkFolder(t *testing.T) {
	dir := t.TempDir()
	watched := filepath.Join(dir, "drop")
	victim := filepath.Join(dir, "archive") // another system's dated folders
	old := time.Now().AddDate(0, 0, -45).Format(time.DateOnly)
	for _, d := range []string{watched, filepath.Join(victim, old)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(victim, old, "ledger.csv"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Sources.Folders = []config.Folder{{}}
	cfg.Sources.Folders[0].Name = "drop"
	cfg.Sources.Folders[0].Path = watched
	eng, err := folder.New(adapters.Settings{}, cfg.Sources.Folders[0].Config.Config,
		adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer eng.Shutdown(context.Background())
	realDone := eng.Paths().Done
	if err := os.MkdirAll(filepath.Join(realDone, old), 0o700); err != nil {
		t.Fatal(err)
	}

	// The swap: .ferry away, one of the writer's own in its place.
	if err := os.Rename(filepath.Join(watched, ".ferry"), filepath.Join(watched, ".ferry-away")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(watched, ".ferry"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(watched, ".ferry", "done")); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info"), folders: []*folder.Engine{eng}}
	g.pruneDelivered(context.Background())
	if _, err := os.Stat(filepath.Join(victim, old, "ledger.csv")); err != nil {
		t.Errorf("the linked folder's dated folder was pruned: %v", err)
	}
	if _, err := os.Stat(filepath.Join(watched, ".ferry-away", "done", old)); err == nil {
		t.Error("the old dated folder of the real done/ was kept")
	}
}

// TestPruneAtStartFollowsNoSwappedWorkFolder: the retention pass runs
// when the scheduler starts, before the folders do, so at every start
// it found no running folder and pruned done/ by its path, following a
// link there: with .ferry swapped while ferry was stopped (or while it
// ran, then restarted), its done/ a link to another place, the pass
// removed that place's dated folders, though the folder's own start then
// refused the link ("ferry follows none in its work folder"). A folder
// not running is now pruned as its start would open it: no link in its
// work folder is followed.
func TestPruneAtStartFollowsNoSwappedWorkFolder(t *testing.T) {
	dir := t.TempDir()
	watched := filepath.Join(dir, "drop")
	victim := filepath.Join(dir, "archive") // another system's dated folders
	old := time.Now().AddDate(0, 0, -45).Format(time.DateOnly)
	for _, d := range []string{filepath.Join(watched, ".ferry"), filepath.Join(victim, old)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(victim, old, "ledger.csv"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(watched, ".ferry", "done")); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Sources.Folders = []config.Folder{{}}
	cfg.Sources.Folders[0].Name = "drop"
	cfg.Sources.Folders[0].Path = watched
	eng, err := folder.New(adapters.Settings{}, cfg.Sources.Folders[0].Config.Config,
		adapters.ConsumerFunc(func(context.Context, adapters.Raw) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g := &gateway{cfg: cfg, log: newLogger(&logs, "info"), folders: []*folder.Engine{eng}} // not started yet
	g.pruneDelivered(context.Background())
	if _, err := os.Stat(filepath.Join(victim, old, "ledger.csv")); err != nil {
		t.Errorf("the linked folder's dated folder was pruned: %v", err)
	}
	if !strings.Contains(logs.String(), "symbolic link") {
		t.Errorf("the pass did not say why it pruned nothing:\n%s", logs.String())
	}
	// The folder itself refuses the link at its start, as before.
	if err := eng.Start(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		eng.Shutdown(context.Background())
		t.Errorf("start: %v", err)
	}

	// The whole work folder swapped for a link.
	if err := os.RemoveAll(filepath.Join(watched, ".ferry")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(victim, old), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, old, "ledger.csv"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "theirs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "theirs", "done")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "theirs"), filepath.Join(watched, ".ferry")); err != nil {
		t.Fatal(err)
	}
	g.pruneDelivered(context.Background())
	if _, err := os.Stat(filepath.Join(victim, old, "ledger.csv")); err != nil {
		t.Errorf("with .ferry a link, the linked folder's dated folder was pruned: %v", err)
	}
}
