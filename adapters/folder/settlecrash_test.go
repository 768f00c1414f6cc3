package folder

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCrashBetweenSidecarAndInputMoves: settle moves a consumed input's
// sidecars to done/ and then the input. A crash between the two renames
// left the input alone in processing/, and the next start consumed it
// again without its sidecar, under a seen-set key (the image's alone)
// that no earlier Consume had added: the fax went to the exchange a
// second time, without the patient its sidecar named. It is now known
// as consumed and moved to done/ beside its sidecar.
func TestCrashBetweenSidecarAndInputMoves(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json"}
	rec := &recorder{}
	e1 := startEngine(t, cfg, rec)
	writeFile(t, filepath.Join(dir, "fax7.json"), []byte(`{"mrn":"MRN-7"}`))
	writeFile(t, filepath.Join(dir, "fax7.pdf"), []byte("%PDF-1.4 fax seven"))
	waitFor(t, "pdf in done", doneHas(t, e1, "fax7.pdf"))
	waitFor(t, "json in done", doneHas(t, e1, "fax7.json"))
	paths := e1.Paths()
	var pdf string
	for _, f := range inDone(t, e1) {
		if filepath.Base(f) == "fax7.pdf" {
			pdf = filepath.Join(paths.Done, filepath.FromSlash(f))
		}
	}
	if err := e1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The state a crash after the sidecar's rename and before the
	// input's leaves: everything before the renames was done (the
	// Consume, the seen-set), the sidecar is in done/, the input is not.
	if err := os.Rename(pdf, filepath.Join(paths.Processing, "fax7.pdf")); err != nil {
		t.Fatal(err)
	}

	rec2 := &recorder{}
	e2 := startEngine(t, cfg, rec2)
	waitFor(t, "pdf in done again", doneHas(t, e2, "fax7.pdf"))
	waitPasses(t, e2, 2)
	if n := rec2.count(); n != 0 {
		t.Fatalf("consumed %d time(s) again after the crash (sidecars %q), want 0", n, rec2.all()[0].raw.Sidecars)
	}
	if left := filesUnder(t, paths.Processing); len(left) != 0 {
		t.Fatalf("processing/ holds %v", left)
	}
	want := map[string]bool{"fax7.pdf": true, "fax7.json": true}
	for _, f := range inDone(t, e2) {
		if !want[filepath.Base(f)] {
			t.Fatalf("done/ holds %v, want fax7.pdf beside fax7.json", inDone(t, e2))
		}
		delete(want, filepath.Base(f))
	}
	if len(want) != 0 {
		t.Fatalf("done/ holds %v", inDone(t, e2))
	}
}
