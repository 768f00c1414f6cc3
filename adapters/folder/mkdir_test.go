package folder

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMkdirAllInCreatesInsideRoot(t *testing.T) {
	base := t.TempDir()
	root, err := os.OpenRoot(base)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := mkdirAllIn(root, filepath.Join("done", "2026-11-26"), 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(base, "done", "2026-11-26")); err != nil || !fi.IsDir() {
		t.Fatalf("not created: %v", err)
	}
	if err := mkdirAllIn(root, filepath.Join("done", "2026-11-26"), 0o700); err != nil {
		t.Fatalf("second call: %v", err)
	}
	if err := mkdirAllIn(root, filepath.Join("..", "escape"), 0o700); err == nil {
		t.Fatal("a folder outside the root was created")
	}
}
