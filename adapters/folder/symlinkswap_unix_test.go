//go:build !windows

package folder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestWorkFolderSwappedWhileRunning: a writer of the drop folder renames
// .ferry away while ferry runs and puts a symbolic link (to a folder of
// its own outside, or inside the drop folder) in its place. The file
// ferry holds in processing/ is archived into its real work folder
// (wherever it was renamed to), nothing lands in the link's target, new
// files are not claimed while the swap lasts, and claiming resumes when
// the work folder is back.
func TestWorkFolderSwappedWhileRunning(t *testing.T) {
	for _, target := range []string{"outside", "inside"} {
		t.Run(target, func(t *testing.T) {
			dir := t.TempDir()
			attacker := filepath.Join(t.TempDir(), "attacker")
			if target == "inside" {
				attacker = filepath.Join(dir, "evil")
			}
			if err := os.Mkdir(attacker, 0o777); err != nil {
				t.Fatal(err)
			}
			os.Chmod(attacker, 0o777)

			var release atomic.Bool
			rec := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
				if in.Name == "Doe_Jane.xml" && !release.Load() {
					return errors.New("exchange down")
				}
				return nil
			}}
			e := startEngine(t, testConfig(dir), rec)
			dropFile(t, dir, "Doe_Jane.xml", []byte("<ClinicalDocument>Jane Doe</ClinicalDocument>"))
			waitFor(t, "claimed and retried", func() bool { return rec.count() >= 2 })

			work := filepath.Join(dir, ".ferry")
			moved := filepath.Join(dir, ".ferry-moved")
			if err := os.Rename(work, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(attacker, work); err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(attacker, "processing"), 0o777)
			os.MkdirAll(filepath.Join(attacker, "done"), 0o777)

			release.Store(true)
			waitFor(t, "archived in the real work folder", func() bool {
				for _, f := range filesUnder(t, filepath.Join(moved, "done")) {
					if strings.HasSuffix(f, "/Doe_Jane.xml") {
						return true
					}
				}
				return false
			})
			dropFile(t, dir, "Roe_Rick.xml", []byte("<ClinicalDocument>Rick Roe</ClinicalDocument>"))
			waitFor(t, "a claim refused", func() bool { e.Rescan(); return e.Stats().ClaimErrors > 0 })
			waitPasses(t, e, 2)
			if got := filesUnder(t, attacker); len(got) != 0 {
				t.Fatalf("files landed in the link's target: %v", got)
			}
			if _, err := os.Stat(filepath.Join(dir, "Roe_Rick.xml")); err != nil {
				t.Fatalf("a file was claimed while the work folder was swapped: %v", err)
			}
			if st := e.Stats(); !st.ClaimsFailing {
				t.Errorf("stats do not show the folder stuck: %+v", st)
			}

			// Put back, the work folder takes files again.
			if err := os.Remove(work); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(moved, work); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "claims resume", func() bool {
				e.Rescan()
				return doneHas(t, e, "Roe_Rick.xml")()
			})
			if got := filesUnder(t, attacker); len(got) != 0 {
				t.Fatalf("files landed in the link's target: %v", got)
			}
		})
	}
}
