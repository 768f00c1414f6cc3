package fetch

import (
	"path/filepath"
	"runtime"
	"testing"
)

// TestNamesOnThisSystem: names with a path in them are refused
// everywhere; a colon or a question mark, which Linux and macOS allow in
// a file name, is taken there as it is.
func TestNamesOnThisSystem(t *testing.T) {
	f := &Fetcher{local: t.TempDir()}
	for _, name := range []string{"", ".", "..", "a/b", "/abs"} {
		if p, err := f.freeName(name); err == nil {
			t.Errorf("%q: took it as %s", name, p)
		}
	}
	if runtime.GOOS == "windows" {
		return
	}
	for _, name := range []string{"scan 12:30.pdf", "what?.pdf"} {
		if p, err := f.freeName(name); err != nil || p != filepath.Join(f.local, name) {
			t.Errorf("%q: %q, %v", name, p, err)
		}
	}
}
