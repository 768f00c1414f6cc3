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
