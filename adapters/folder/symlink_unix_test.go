//go:build !windows

package folder

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestWorkFolderSymlinksAreRefused checks that ferry does not follow a
// symbolic link planted where its work folder or seen-set goes: anyone who
// may write to the drop folder (an EHR's export account, a share's users)
// could otherwise point them at files only ferry may write, which ferry
// would then truncate and append to (the seen-set), or move PHI into.
func TestWorkFolderSymlinksAreRefused(t *testing.T) {
	victimDir := t.TempDir()
	victim := filepath.Join(victimDir, "victim")
	orig := bytes.Repeat([]byte("k"), 40)
	writeFile(t, victim, orig)

	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, dir string)
	}{
		{"seen-set", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, ".ferry"), 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(victim, filepath.Join(dir, ".ferry", "seen.sha256")); err != nil {
				t.Fatal(err)
			}
		}},
		{"work folder", func(t *testing.T, dir string) {
			if err := os.Symlink(victimDir, filepath.Join(dir, ".ferry")); err != nil {
				t.Fatal(err)
			}
		}},
		{"processing", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, ".ferry"), 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(victimDir, filepath.Join(dir, ".ferry", "processing")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.plant(t, dir)
			e, err := New(adapters.Settings{}, testConfig(dir), &recorder{})
			if err != nil {
				t.Fatal(err)
			}
			err = e.Start(t.Context(), nil)
			if err == nil {
				e.Shutdown(t.Context())
				t.Error("Start followed a planted symbolic link")
			} else if !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("Start: %v; want it to name the symbolic link", err)
			}
			if got, _ := os.ReadFile(victim); !bytes.Equal(got, orig) {
				t.Fatalf("the link's target was changed: %d bytes, was %d", len(got), len(orig))
			}
			if ents, _ := os.ReadDir(victimDir); len(ents) != 1 {
				t.Errorf("the link's target folder holds %d entries, was 1", len(ents))
			}
		})
	}
}
