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

// TestInstallWarnsOfABinaryTheUnitHides: ferry install registers the
// binary it runs as (ExecStart), and one run where it was downloaded
// (sudo ./ferry install in ~/Downloads, or in /tmp) is where the hardened
// unit hides it from the service: systemd could not run it (203/EXEC) at
// any start, with nothing said at install. The test binary stands in for
// ferry where it lies in /tmp or a home folder.
func TestInstallWarnsOfABinaryTheUnitHides(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !isWithin("/tmp", exe) && !isWithin("/home", exe) && !isWithin("/root", exe) {
		t.Skipf("the test binary %s is where the unit shows it", exe)
	}
	cfg := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: /srv/ferry-test-data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var warn strings.Builder
	if err := cmdInstall(context.Background(), []string{"--config", cfg, "--dry-run"}, io.Discard, &warn); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "warning: the ferry binary "+exe+" is under") {
		t.Errorf("install from %s warned\n%s\nwant the binary named", exe, warn.String())
	}
}
