package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// `ferry convert --out` writes PHI: its folder and files are owner-only,
// also where an earlier run left a wider file of the same name.
func TestConvertOutModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	out := filepath.Join(t.TempDir(), "bundles")
	in := "../../testdata/hl7v2/batch-two-messages.hl7"
	if err := cmdConvert(context.Background(), []string{"--out", out, in}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(out, "batch-two-messages.1.json")
	if err := os.Chmod(first, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmdConvert(context.Background(), []string{"--out", out, in}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(files) == 0 {
		t.Fatal("no bundle written")
	}
	modes := map[string]os.FileMode{out: 0o700}
	for _, f := range files {
		modes[f] = 0o600
	}
	for path, want := range modes {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
}
