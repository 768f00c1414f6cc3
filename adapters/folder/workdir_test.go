package folder

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestWorkDirOutsideTheFolder: with work_dir, claimed, done and failed
// files and the seen-set live there, and the watched folder gets no
// .ferry of its own.
func TestWorkDirOutsideTheFolder(t *testing.T) {
	dir, work := t.TempDir(), filepath.Join(t.TempDir(), "work")
	cfg := testConfig(dir)
	cfg.WorkDir = work
	e := startEngine(t, cfg, &recorder{})
	p := e.Paths()
	if p.Work != work || p.Processing != filepath.Join(work, "processing") || p.Done != filepath.Join(work, "done") {
		t.Fatalf("paths %+v", p)
	}
	dropFile(t, dir, "a.hl7", []byte("MSH|a"))
	waitFor(t, "done", doneHas(t, e, "a.hl7"))
	if _, err := os.Stat(filepath.Join(work, "seen.sha256")); err != nil {
		t.Error(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("watched folder holds %v", ents)
	}
	if info, err := os.Stat(work); err != nil || runtime.GOOS != "windows" && info.Mode().Perm() != 0o700 { // Windows: the folder's ACL decides
		t.Errorf("work folder %v %v, want mode 0700", info, err)
	}
}

// TestWorkDirThatCannotBeCreated: Start names work_dir and says how to
// create it for the service account.
func TestWorkDirThatCannotBeCreated(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "plain-file")
	writeFile(t, file, nil)
	cfg := testConfig(dir)
	cfg.WorkDir = filepath.Join(file, "ferry")
	e, err := New(adapters.Settings{}, cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Start(t.Context(), nil)
	if err == nil {
		e.Shutdown(t.Context())
		t.Fatal("started without its work folder")
	}
	for _, w := range []string{"work_dir", cfg.WorkDir, "install -d -o ferry"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v does not say %q", err, w)
		}
	}
}

func TestWorkDirValidation(t *testing.T) {
	for _, tc := range []struct {
		kind, work, want string
	}{
		{"ehr", "/srv/exports/.work", "work_dir: must lie outside the watched folder"},
		{"ehr", "/srv/exports", "work_dir: must lie outside the watched folder"},
		{"ehr", "/srv", "work_dir: must not contain the watched folder"},
		{"hylafax", "/srv/exports/.ferry", "work_dir: lies inside path, the HylaFAX recvq: HylaFAX's faxcron"},
		{"ehr", "/srv/ferry-work", ""},
	} {
		cfg := testConfig("/srv/exports")
		cfg.Kind, cfg.WorkDir = tc.kind, tc.work
		err := cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s work_dir %s: %v, want %q", tc.kind, tc.work, err, tc.want)
		}
	}
	if got := DefaultWorkDir("hylafax", "/var/spool/hylafax/recvq/"); got != filepath.Clean("/var/spool/hylafax/ferry") {
		t.Errorf("hylafax default %s", got)
	}
	if got := DefaultWorkDir("ehr", "/srv/exports"); got != filepath.Clean("/srv/exports/.ferry") {
		t.Errorf("ehr default %s", got)
	}
}
