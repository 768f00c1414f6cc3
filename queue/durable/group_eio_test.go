package durable

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestGroupCommitAfterAnotherCommitsSyncFailed: syncfs(2) reports a
// write-back error once per open file, and the Group's syncs share one
// handle of the directory: a sync that failed told the commit it ran for,
// and the next sync, for a file written before that failure (whose pages
// that failed write-back may have been, dropped from the page cache as
// clean), succeeded, so its Commit returned nil though its content may
// never reach the disk (an outbox bundle acknowledged and lost). A Commit
// now fails when a sync of the Group failed after its file was created:
// the file is written again, the only safe thing after a failed sync.
func TestGroupCommitAfterAnotherCommitsSyncFailed(t *testing.T) {
	dir := t.TempDir()
	g, err := NewGroup(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.fsys == nil {
		t.Skip("no whole-file-system sync here")
	}
	inner := g.fsys.sync
	fail := false
	g.fsys.sync = func() error {
		if fail {
			fail = false
			return syscall.EIO // the write-back of some file failed
		}
		return inner()
	}
	create := func(name, content string) *Pending {
		t.Helper()
		p, err := Create(filepath.Join(dir, name), 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b := create("b.json", "bee")
	defer b.Abort()
	a := create("a.json", "ay")
	fail = true
	if err := g.Commit(a); !errors.Is(err, syscall.EIO) {
		t.Fatalf("commit of a: %v, want EIO", err)
	}
	// The failure may have been b's pages: b is not durable.
	if err := g.Commit(b); err == nil {
		t.Fatal("commit of b, written before a sync failed, succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "b.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b.json after its failed commit: %v", err)
	}
	// Written again after the failure, it is committed.
	b = create("b.json", "bee")
	if err := g.Commit(b); err != nil {
		t.Fatalf("commit of b written again: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "b.json")); err != nil || string(got) != "bee" {
		t.Fatalf("b.json = %q, %v", got, err)
	}
}
