package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallWarnsOfFoldersTheUnitHides: the hardened unit hides home
// folders from the service (ProtectHome=yes) and gives it /tmp and
// /var/tmp of its own (PrivateTmp=yes). install warned of a config file
// or data_dir in a home folder, but not of an EHR export folder there
// (/home/clinic/exports, where a clinic's export often lands) nor of a
// folder or log in /tmp or /var/tmp: the service could not start, or
// watched an empty folder of its own, with nothing said at install. Each
// folder and file the service uses is looked at now.
func TestInstallWarnsOfFoldersTheUnitHides(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ferry.yaml")
	body := `data_dir: /srv/ferry-test-data
log:
  file: /var/tmp/ferry-test/ferry.log
sources:
  folders:
    - {name: ehr, kind: ehr, path: /home/clinic/exports}
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var warn strings.Builder
	if err := cmdInstall(context.Background(), []string{"--config", cfg, "--dry-run"}, io.Discard, &warn); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"warning: /home/clinic/exports is under a home folder, which the hardened unit hides from the service (ProtectHome=yes)",
		"warning: /var/tmp/ferry-test is under /var/tmp, where the hardened unit gives the service an empty one of its own (PrivateTmp=yes)",
	} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("install of\n%s warned\n%s\nwant %q", body, warn.String(), want)
		}
	}
	if strings.Contains(warn.String(), "/srv/ferry-test-data") {
		t.Errorf("install warned of data_dir /srv/ferry-test-data:\n%s", warn.String())
	}
}
