package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFolderWorkDirProblems: `ferry config check` refuses a HylaFAX
// inbox whose work folder lies inside the recvq (faxcron purges it), and
// two folders that would share one work folder.
func TestFolderWorkDirProblems(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`
sources:
  folders:
    - {name: hylafax, kind: hylafax, path: /var/spool/hylafax/recvq, work_dir: /var/spool/hylafax/recvq/.ferry}
    - {name: a, kind: hylafax, path: /srv/fax/a}
    - {name: b, kind: hylafax, path: /srv/fax/b}
fax: {source_id: 1.3.6.1.4.1.21367.2026.1, patient_system: "urn:oid:1.2.3"}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	shared, _ := filepath.Abs("/srv/fax/ferry") // on Windows the current drive's \srv\fax\ferry
	for _, want := range []string{"sources.folders[0].work_dir: lies inside path, the HylaFAX recvq", "faxcron",
		"sources.folders[2].work_dir: " + shared + " is also the work folder of sources.folders[1]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\ndoes not say %q", err, want)
		}
	}
}
