//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/installer"
)

// TestKeygenGivesKeyToService: run as root on a machine with the service
// account, `ferry keygen` gives the new key to that account (mode 0600),
// as `ferry install` does for configured keys, so that the service can
// read a key made with sudo.
func TestKeygenGivesKeyToService(t *testing.T) {
	u, err := user.Lookup(installer.Account)
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and the service account")
	}
	path := filepath.Join(t.TempDir(), "ferry.key")
	var out bytes.Buffer
	if err := cmdKeygen(context.Background(), []string{path}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if strconv.Itoa(int(st.Uid)) != u.Uid || fi.Mode().Perm() != 0o600 {
		t.Errorf("key owned by uid %d mode %o, want %s (%s) mode 600", st.Uid, fi.Mode().Perm(), u.Uid, installer.Account)
	}
	if !strings.Contains(out.String(), "gave it to the "+installer.Account+" account") {
		t.Errorf("keygen output does not say so:\n%s", out.String())
	}
}
