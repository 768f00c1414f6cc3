package folder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBusyLongPath: a watched folder deep in a share (a clinic's
// \\nas\scans\Dr Smith\Inbound\...) puts its files past MAX_PATH, 260
// characters. Go's os package reaches such paths (it adds the \\?\
// prefix itself), but the busy check's own CreateFile did not: the open
// failed with "path not found", which the caller reads as a file renamed
// away meanwhile, so the file was held back at every pass, without a word.
func TestBusyLongPath(t *testing.T) {
	dir := t.TempDir()
	for len(dir) < 300 {
		dir = filepath.Join(dir, strings.Repeat("d", 60))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lab.hl7"), []byte("MSH|^~\\&|LAB\r"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	b, err := busy(place{root, "."}, "lab.hl7")
	if err != nil || b {
		t.Fatalf("a closed file %d characters deep: busy %v, %v; want not busy", len(dir), b, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lab.hl7"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, err := busy(place{root, "."}, "lab.hl7"); err != nil || !b {
		t.Fatalf("a file held open for writing: busy %v, %v; want busy", b, err)
	}
}

// TestLongPathPrefix: which paths get the \\?\ prefix, and how.
func TestLongPathPrefix(t *testing.T) {
	long := strings.Repeat("d", 250)
	for _, c := range []struct{ in, want string }{
		{`C:\short\lab.hl7`, `C:\short\lab.hl7`},
		{`C:\` + long + `\lab.hl7`, `\\?\C:\` + long + `\lab.hl7`},
		{`\\nas\scans\` + long + `\lab.hl7`, `\\?\UNC\nas\scans\` + long + `\lab.hl7`},
		{`\\?\C:\` + long, `\\?\C:\` + long},
	} {
		if got := longPath(c.in); got != c.want {
			t.Errorf("longPath(%.40q...) = %.60q..., want %.60q...", c.in, got, c.want)
		}
	}
}
