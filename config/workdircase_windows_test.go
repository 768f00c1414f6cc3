package config

import (
	"strings"
	"testing"
)

// TestFolderWorkDirCaseOnWindows: Windows names one folder in any case
// (and with / or \), so D:\Inbound and d:\inbound\ are one folder, and two
// sources watching it share its .ferry work folder: each takes the
// other's claimed files, and both deliver them. The check that refuses
// a shared work folder compared the paths as strings, and let these two
// pass.
func TestFolderWorkDirCaseOnWindows(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`
sources:
  folders:
    - {name: ehr, kind: ehr, path: 'D:\Inbound'}
    - {name: ehr2, kind: ehr, path: 'd:/inbound/'}
`))
	if err == nil || !strings.Contains(err.Error(), "sources.folders[1].work_dir: ") || !strings.Contains(err.Error(), "is also the work folder of sources.folders[0]") {
		t.Fatalf("two sources of one folder, named in two cases: %v", err)
	}
}
