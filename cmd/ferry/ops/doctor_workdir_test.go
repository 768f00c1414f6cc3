package ops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config"
)

// TestCheckFoldersHylaFAXWorkFolder: the doctor names a HylaFAX inbox's
// work folder beside the recvq, says why it is there and how to create
// it, and warns about an earlier ferry's work folder inside the recvq.
func TestCheckFoldersHylaFAXWorkFolder(t *testing.T) {
	spool := t.TempDir()
	recvq := filepath.Join(spool, "recvq")
	os.Mkdir(recvq, 0o755)
	cfg := config.Default()
	cfg.DataDir = filepath.Join(spool, "data")
	cfg.Sources.Folders = []config.Folder{{Config: fax.Config{Config: folder.Config{Name: "hylafax", Kind: "hylafax", Path: recvq}}}}
	work := filepath.Join(spool, "ferry")

	find := func(checks []Check, name string) *Check {
		for i := range checks {
			if strings.Contains(checks[i].Name, name) {
				return &checks[i]
			}
		}
		return nil
	}
	c := find(CheckFolders(cfg, DoctorOptions{}), "work_dir "+work)
	if c == nil || c.Level != Warn || !strings.Contains(c.Detail, "faxcron") || !strings.Contains(c.Detail, "install -d -o ferry -g ferry -m 0700 "+work) {
		t.Fatalf("missing work folder: %+v", c)
	}
	os.Mkdir(work, 0o700)
	os.MkdirAll(filepath.Join(recvq, ".ferry", "failed"), 0o700)
	checks := CheckFolders(cfg, DoctorOptions{})
	if c := find(checks, "work_dir "+work); c == nil || c.Level != OK {
		t.Errorf("existing work folder: %+v", c)
	}
	if c := find(checks, filepath.Join(recvq, ".ferry")); c == nil || c.Level != Warn || !strings.Contains(c.Detail, "faxcron") {
		t.Errorf("old work folder in recvq: %+v", c)
	}

	// A parent the account cannot create it in is a failure.
	cfg.Sources.Folders[0].WorkDir = filepath.Join(spool, "missing", "ferry")
	if c := find(CheckFolders(cfg, DoctorOptions{}), "work_dir"); c == nil || c.Level != Fail || !strings.Contains(c.Detail, "install -d") {
		t.Errorf("uncreatable work folder: %+v", c)
	}
}
