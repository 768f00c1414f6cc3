package folder

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWindowsWritersFilesAreIgnored: the default ignore list must skip
// what Windows programs leave in a folder: a temporary file made by
// GetTempFileName in the destination folder is named <prefix><hex>.TMP,
// in capitals, and written there before it is renamed to its own name;
// other programs write .PART or .Tmp. Windows Explorer writes
// Thumbs.db (thumbnails of the TIFF faxes in a share it browses) and
// desktop.ini (a folder's view settings). None is an input: taken, the
// temporary file was read half written and its writer's rename failed,
// and Explorer's files went to failed/ again each time it wrote them.
func TestWindowsWritersFilesAreIgnored(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)
	skip := []string{"EXP1A2B.TMP", "export.Tmp", "scan.PART", "fax.CRDOWNLOAD", "Thumbs.db", "THUMBS.DB", "desktop.ini", "Desktop.ini"}
	for i, n := range skip {
		writeFile(t, filepath.Join(dir, n), []byte(fmt.Sprintf("data %d", i)))
	}
	writeFile(t, filepath.Join(dir, "real.hl7"), []byte("MSH|^~\\&|"))
	waitFor(t, "done", doneHas(t, e, "real.hl7"))
	waitPasses(t, e, 2)
	for _, g := range rec.all() {
		if g.raw.Name != "real.hl7" {
			t.Errorf("%s was taken", g.raw.Name)
		}
	}
	for _, n := range skip {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was touched: %v", n, err)
		}
	}
}
