package durable

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestMkdirAllCreatesAndIsIdempotent(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "c")
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), dir} {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("second call: %v", err)
	}
	f := filepath.Join(base, "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(filepath.Join(f, "x"), 0o700); err == nil {
		t.Fatal("a directory under a regular file was accepted")
	}
}

func TestMkdirAllSyncsEveryNewDirectorysParent(t *testing.T) {
	base := t.TempDir()
	var mu sync.Mutex
	synced := map[string]bool{}
	defer TraceSyncDir(func(dir string) {
		mu.Lock()
		synced[filepath.Clean(dir)] = true
		mu.Unlock()
	})()
	if err := MkdirAll(filepath.Join(base, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range []string{base, filepath.Join(base, "a")} {
		if !synced[p] {
			t.Errorf("%s not synced (synced: %v)", p, synced)
		}
	}
}
