package folder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestStemMarkerServesEveryInputOfItsStem: a marker named after the
// stem (x.done, as marker_suffix allows beside x.xml.done) stands for
// every file of that stem, as an EHR writes a visit's C-CDA and its PDF
// rendition (x.xml, x.pdf) and then one marker for both. The marker was
// removed with the first file claimed, and when the second could not be
// taken in the same pass (the first was still in processing/, the queue
// full for a moment), it waited for a marker for ever. The marker is
// now removed with the last file of its stem.
func TestStemMarkerServesEveryInputOfItsStem(t *testing.T) {
	dir := t.TempDir()
	failed := false
	rec := &recorder{fn: func(_ context.Context, _ int, in adapters.Raw) error {
		if !failed {
			failed = true
			return errors.New("queue is full")
		}
		return nil
	}}
	cfg := testConfig(dir)
	cfg.MarkerSuffix = ".done"
	e := startEngine(t, cfg, rec)
	writeFile(t, filepath.Join(dir, "visit1.xml"), []byte("<ClinicalDocument/>"))
	writeFile(t, filepath.Join(dir, "visit1.pdf"), []byte("%PDF-1.4 rendition"))
	writeFile(t, filepath.Join(dir, "visit1.done"), nil)
	waitFor(t, "both files in done/", func() bool {
		e.Rescan()
		return doneHas(t, e, "visit1.xml")() && doneHas(t, e, "visit1.pdf")()
	})
	if _, err := os.Stat(filepath.Join(dir, "visit1.done")); err == nil {
		t.Error("the marker was left after both files were taken")
	}
}
