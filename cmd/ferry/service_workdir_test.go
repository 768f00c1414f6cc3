package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/config"
)

// TestServiceUnitHoldsRecvqAndWorkFolderInOneEntry: a HylaFAX inbox's
// work folder lies beside the recvq, and claims rename from one into the
// other, which Linux refuses between two ReadWritePaths entries (two
// mounts): the unit lists the spool folder holding both, once.
func TestServiceUnitHoldsRecvqAndWorkFolderInOneEntry(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd only")
	}
	cfg := config.Default()
	cfg.DataDir = "/var/lib/ferry"
	cfg.Sources.Folders = []config.Folder{
		{Config: fax.Config{Config: folder.Config{Name: "hylafax", Kind: "hylafax", Path: "/var/spool/hylafax/recvq"}}},
		{Config: fax.Config{Config: folder.Config{Name: "ehr", Kind: "ehr", Path: "/srv/exports"}}},
	}
	sc, err := installServiceConfig("/etc/ferry/ferry.yaml", cfg)
	if err != nil {
		t.Fatal(err)
	}
	unit, _ := sc.Option["SystemdScript"].(string)
	var rw string
	for _, l := range strings.Split(unit, "\n") {
		if strings.HasPrefix(l, "ReadWritePaths=") {
			rw = l
		}
	}
	if rw != "ReadWritePaths=/var/lib/ferry /var/spool/hylafax /srv/exports" {
		t.Errorf("got %q", rw)
	}
}

func TestOutermost(t *testing.T) {
	got := outermost([]string{"/var/lib/ferry", "/var/spool/hylafax/recvq", "/var/spool/hylafax", "/var/lib/ferry", "/srv/x"})
	if strings.Join(got, " ") != "/var/lib/ferry /var/spool/hylafax /srv/x" {
		t.Errorf("got %v", got)
	}
}

// TestServiceUnitNeverMakesTheSystemWritable: a folder whose work_dir
// lies elsewhere on the same disk (/srv/exports/ehr and
// /var/lib/ferry-work/ehr, which the configuration allows) shares no
// folder with it but /. The unit listed that one entry,
// ReadWritePaths=/, which undoes ProtectSystem=strict for the whole
// machine (and swallowed data_dir's entry); install now refuses it and
// says where to put the work folder, and accepts one beside the folder.
func TestServiceUnitNeverMakesTheSystemWritable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd only")
	}
	cfg := config.Default()
	cfg.DataDir = "/var/lib/ferry"
	cfg.Sources.Folders = []config.Folder{
		{Config: fax.Config{Config: folder.Config{Name: "ehr", Kind: "ehr", Path: "/srv/exports/ehr", WorkDir: "/var/lib/ferry-work/ehr"}}},
	}
	sc, err := installServiceConfig("/etc/ferry/ferry.yaml", cfg)
	if err == nil {
		unit, _ := sc.Option["SystemdScript"].(string)
		t.Fatalf("accepted; unit:\n%s", unit)
	}
	for _, want := range []string{"sources.folders[0]", "/srv/exports/ehr", "/var/lib/ferry-work/ehr", "work_dir", "/srv/exports/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	cfg.Sources.Folders[0].WorkDir = "/srv/exports/ehr-work"
	sc, err = installServiceConfig("/etc/ferry/ferry.yaml", cfg)
	if err != nil {
		t.Fatal(err)
	}
	unit, _ := sc.Option["SystemdScript"].(string)
	if !strings.Contains(unit, "\nReadWritePaths=/var/lib/ferry /srv/exports\n") {
		t.Errorf("work folder beside the folder:\n%s", unit)
	}
}
