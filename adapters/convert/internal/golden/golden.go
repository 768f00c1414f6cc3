// Package golden compares a converter's output with the expected file of
// its test case, or rewrites that file when the test runs with -update:
// the one comparison the converters' golden tests share.
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Check compares got with the file at path. With update it writes got
// there instead (creating its folder) for the author to review in the
// diff. A difference names the first line that differs.
func Check(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update and review the diff):\n%s", path, FirstDiff(got, want))
	}
}

// FirstDiff describes the first line at which got and want differ.
func FirstDiff(got, want []byte) string {
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) && i < len(wl); i++ {
		if gl[i] != wl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + clip(gl[i]) + "\nwant: " + clip(wl[i])
		}
	}
	return "lengths differ: " + strconv.Itoa(len(gl)) + " lines against " + strconv.Itoa(len(wl))
}

func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
