package folder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestCrashBetweenFailedSidecarAndInputMoves: fail writes an input's
// reason, then moves its sidecars to failed/ and then the input. A crash
// between the sidecars' renames and the input's left the input alone in
// processing/, and the next start consumed it again without its
// sidecars: the fax refused for the patient its sidecar named went to
// the exchange filed under no patient (or a file name's guess), while
// failed/ held a sidecar and a reason for a file that was not there. It
// now ends in failed/ beside its sidecars and its reason, not consumed
// again; the same is true of an input of a reused name (stored as
// fax7~2.pdf) and of one of whose two sidecars only one had moved.
func TestCrashBetweenFailedSidecarAndInputMoves(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Sidecars = []string{".json", ".xml"}
	refuse := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		if len(in.Sidecars) > 0 {
			return queue.Permanent(errors.New("sidecar: MRN 99999 is no patient of the practice"))
		}
		return nil
	}}
	e1 := startEngine(t, cfg, refuse)
	failed := e1.Paths().Failed
	proc := e1.Paths().Processing
	drop := func(stem, body string, sidecars ...string) {
		for _, sc := range sidecars {
			writeFile(t, filepath.Join(dir, stem+sc), []byte(`{"MRN":"99999","fax":"`+body+`"}`))
		}
		writeFile(t, filepath.Join(dir, stem+".pdf"), []byte("%PDF-1.4 "+body))
	}
	inFailed := func(name string) func() bool {
		return func() bool {
			_, err := os.Stat(filepath.Join(failed, name))
			return err == nil
		}
	}
	drop("fax7", "one", ".json")
	waitFor(t, "fax7.pdf in failed/", inFailed("fax7.pdf"))
	drop("fax7", "two", ".json")
	waitFor(t, "fax7~2.pdf in failed/", inFailed("fax7~2.pdf"))
	drop("fax8", "three", ".json", ".xml")
	waitFor(t, "fax8.pdf in failed/", inFailed("fax8.pdf"))
	if err := e1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	reasons := map[string][]byte{}
	for _, n := range []string{"fax7.pdf", "fax7~2.pdf", "fax8.pdf"} {
		b, err := os.ReadFile(filepath.Join(failed, n+".error.txt"))
		if err != nil {
			t.Fatal(err)
		}
		reasons[n] = b
	}
	// The state a crash after the sidecars' renames (of fax8, after one
	// of them) and before the input's leaves: the reason and the
	// sidecars moved are in failed/, the input is in processing/.
	for from, to := range map[string]string{"fax7~2.pdf": "fax7.pdf", "fax8.pdf": "fax8.pdf", "fax8.xml": "fax8.xml"} {
		if err := os.Rename(filepath.Join(failed, from), filepath.Join(proc, to)); err != nil {
			t.Fatal(err)
		}
	}

	rec2 := &recorder{}
	e2 := startEngine(t, cfg, rec2)
	waitFor(t, "processing/ emptied", func() bool { return len(filesUnder(t, proc)) == 0 })
	waitPasses(t, e2, 2)
	for _, c := range rec2.all() {
		t.Errorf("%s consumed again after the crash, with sidecars %q", c.raw.Name, c.raw.Sidecars)
	}
	if left := filesUnder(t, proc); len(left) != 0 {
		t.Errorf("processing/ holds %v", left)
	}
	want := "fax7.json fax7.pdf fax7.pdf.error.txt fax7~2.json fax7~2.pdf fax7~2.pdf.error.txt fax8.json fax8.pdf fax8.pdf.error.txt fax8.xml"
	if got := strings.Join(filesUnder(t, failed), " "); got != want {
		t.Errorf("failed/ holds %s, want %s", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(failed, "fax7~2.pdf")); string(b) != "%PDF-1.4 two" {
		t.Errorf("fax7~2.pdf holds %q", b)
	}
	for n, was := range reasons {
		b, _ := os.ReadFile(filepath.Join(failed, n+".error.txt"))
		if string(b) != string(was) {
			t.Errorf("%s's reason changed:\n%s\nwas:\n%s", n, b, was)
		}
	}
	if st := e2.Stats(); st.Failed != 2 {
		t.Errorf("failed %d, want 2", st.Failed)
	}
}
