package folder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrashBetweenTwoSidecarMoves: settle moves a consumed input's
// sidecars to done/ one after another, then the input. A crash after
// the first of two (a fax service writing x.json and x.xml) left the
// input in processing/ with the other, and the next start consumed the
// two again as another input: the fax went to the exchange a second
// time, with half its metadata. It is now known as consumed and moved to
// done/ beside both; the same fax under the same name with a sidecar
// that says something else is still another input.
func TestCrashBetweenTwoSidecarMoves(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json", ".xml"}
	e1 := startEngine(t, cfg, &recorder{})
	for _, stem := range []string{"fax7", "fax9"} {
		writeFile(t, filepath.Join(dir, stem+".json"), []byte(`{"MRN":"MRN-7"}`))
		writeFile(t, filepath.Join(dir, stem+".xml"), []byte(`<fax><called>5550100</called></fax>`))
		writeFile(t, filepath.Join(dir, stem+".pdf"), []byte("%PDF-1.4 fax "+stem))
		waitFor(t, stem+".pdf in done", doneHas(t, e1, stem+".pdf"))
	}
	paths := e1.Paths()
	if err := e1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The state a crash after the first sidecar's rename leaves: fax7's
	// json in done/, its xml and the input not. fax9 stands for the same
	// fax under the same name dropped again with another xml, in
	// processing/ at a stop.
	for _, f := range inDone(t, e1) {
		switch filepath.Base(f) {
		case "fax7.pdf", "fax7.xml", "fax9.pdf", "fax9.xml":
			if err := os.Rename(filepath.Join(paths.Done, filepath.FromSlash(f)), filepath.Join(paths.Processing, filepath.Base(f))); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeFile(t, filepath.Join(paths.Processing, "fax9.xml"), []byte(`<fax><called>5550199</called></fax>`))

	rec2 := &recorder{}
	e2 := startEngine(t, cfg, rec2)
	waitFor(t, "processing/ emptied", func() bool { return len(filesUnder(t, paths.Processing)) == 0 })
	calls := rec2.all()
	if len(calls) != 1 || calls[0].raw.Name != "fax9.pdf" {
		for _, c := range calls {
			t.Errorf("%s consumed after the crash, with sidecars %q", c.raw.Name, c.raw.Sidecars)
		}
		t.Fatalf("want fax9.pdf consumed once")
	}
	var names []string
	for _, f := range inDone(t, e2) {
		names = append(names, filepath.Base(f))
	}
	if got := strings.Join(names, " "); got != "fax7.json fax7.pdf fax7.xml fax9.json fax9.pdf fax9.xml" {
		t.Errorf("done/ holds %s", got)
	}
}
