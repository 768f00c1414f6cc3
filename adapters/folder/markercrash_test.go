package folder

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCrashBetweenClaimAndMarkerRemoval: claim renames an input into
// processing/ and removes its marker after. A crash between the two
// left the marker in the folder, its input gone from it, and the next
// export of that name (the nightly export.xml) was taken as soon as it
// had settled, before its writer was done and had written the marker
// anew: a slow export was read half written. A marker whose inputs are
// all in processing/ at the start is now removed, and the next export
// waits for its own.
func TestCrashBetweenClaimAndMarkerRemoval(t *testing.T) {
	dir := t.TempDir()
	proc := filepath.Join(dir, ".ferry", "processing")
	if err := os.MkdirAll(proc, 0o700); err != nil {
		t.Fatal(err)
	}
	// What the run before left: the input claimed, the marker not
	// removed; the x.done form and the x.xml.done form.
	writeFile(t, filepath.Join(proc, "export.xml"), []byte("<night one/>"))
	writeFile(t, filepath.Join(dir, "export.done"), nil)
	writeFile(t, filepath.Join(proc, "labs.xml"), []byte("<labs one/>"))
	writeFile(t, filepath.Join(dir, "labs.xml.done"), nil)

	rec := &recorder{}
	cfg := testConfig(dir)
	cfg.MarkerSuffix = ".done"
	e := startEngine(t, cfg, rec)
	waitFor(t, "the leftovers consumed", func() bool { return rec.count() == 2 && len(inDone(t, e)) == 2 })
	waitPasses(t, e, 1) // the first pass over

	// The next night's exports, still being written: no marker yet.
	writeFile(t, filepath.Join(dir, "export.xml"), []byte("<night two, half"))
	writeFile(t, filepath.Join(dir, "labs.xml"), []byte("<labs two, half"))
	w := e.waits.Load()
	waitFor(t, "the exports held back for their markers", func() bool {
		e.Rescan()
		return e.waits.Load() >= w+4 || rec.count() > 2
	})
	for _, c := range rec.all()[2:] {
		t.Errorf("%s taken half written (%q), by the marker of the one before", c.raw.Name, c.body)
	}
	for _, m := range []string{"export.done", "labs.xml.done"} {
		if _, err := os.Stat(filepath.Join(dir, m)); !os.IsNotExist(err) {
			t.Errorf("the marker %s of the input taken before is still in the folder (%v)", m, err)
		}
	}
}
