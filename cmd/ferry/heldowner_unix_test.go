//go:build unix

package main

import (
	"context"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/installer"
)

// TestHeldListLeavesHeldToService: `sudo ferry held list` (README: run
// them as root or the ferry account) on a data_dir where the gateway had
// not started yet made held/ there, root's and 0700, and the service,
// which runs as ferry, could then not start ("data_dir ... may not
// create or write it"); the folder is given to the service account, as
// `ferry quarantine list` gives quarantine/.
func TestHeldListLeavesHeldToService(t *testing.T) {
	u, err := user.Lookup(installer.Account)
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and the service account")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	base := t.TempDir()
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, uid, gid); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(base, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+data+"\nstatus: {listen: \"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"held", "quarantine"} {
		if code := runMain(context.Background(), []string{cmd, "list", "--config", cfgFile}, io.Discard, io.Discard); code != 0 {
			t.Fatalf("%s list: exit %d", cmd, code)
		}
		fi, err := os.Stat(filepath.Join(data, cmd))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Sys().(*syscall.Stat_t).Uid; int(got) != uid {
			t.Errorf("%s list as root made %s/ uid %d's, not the service account's (%s)", cmd, cmd, got, u.Uid)
		}
	}
}
