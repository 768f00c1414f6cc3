package fetch

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWindowsNamesRefused: a remote name that Windows would read as a
// stream of another file ("ab:c", the download hidden in file ab), a
// device (NUL) or that holds a character Windows refuses is not a file
// name in the folder; it is refused by its name and nothing is created.
func TestWindowsNamesRefused(t *testing.T) {
	f := &Fetcher{local: t.TempDir()}
	for _, name := range []string{"ab:c", "report.pdf:x", "NUL", "con", "a?b.pdf", "a*b", `a"b`, "a|b", "a<b>", "a\tb"} {
		if p, err := f.freeName(name); err == nil {
			t.Errorf("%q: took it as %s", name, p)
		}
	}
	if p, err := f.freeName("scan 2026-11-28.pdf"); err != nil || p != filepath.Join(f.local, "scan 2026-11-28.pdf") {
		t.Errorf("a plain name: %q, %v", p, err)
	}
	if ents, _ := os.ReadDir(f.local); len(ents) != 0 {
		t.Errorf("the folder holds %d entries", len(ents))
	}
}
