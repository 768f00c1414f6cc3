//go:build linux || freebsd || darwin

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInstallWithoutRootSaysSo: `ferry install` run without sudo went on
// until the first thing only root may do and failed there, in the
// system's words: "create account ferry: useradd: Permission denied.
// useradd: cannot lock /etc/passwd; try again later." or, with the
// account there, "set owner of /srv/ferry: operation not permitted",
// after creating the folders it could. It now says at once that it must
// run as root, with the command to run, and changes nothing; --dry-run
// still runs as anyone. Run as root, the test runs itself as nobody.
func TestInstallWithoutRootSaysSo(t *testing.T) {
	if cfg := os.Getenv("FERRY_TEST_INSTALL_AS_NOBODY"); cfg != "" {
		err := cmdInstall(context.Background(), []string{"--config", cfg}, io.Discard, io.Discard)
		fmt.Printf("install: %v\n", err)
		err = cmdInstall(context.Background(), []string{"--config", cfg, "--dry-run"}, io.Discard, io.Discard)
		fmt.Printf("dry run: %v\n", err)
		return
	}
	dir := t.TempDir()
	// Open to nobody: the folder and the test's own one above it.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+data+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out string
	if os.Geteuid() != 0 {
		err := cmdInstall(context.Background(), []string{"--config", cfg}, io.Discard, io.Discard)
		derr := cmdInstall(context.Background(), []string{"--config", cfg, "--dry-run"}, io.Discard, io.Discard)
		out = fmt.Sprintf("install: %v\ndry run: %v\n", err, derr)
	} else {
		// The test binary, where nobody may run it.
		exe := filepath.Join(dir, "ferry.test")
		b, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(exe, b, 0o755); err != nil {
			t.Fatal(err)
		}
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 && fi.Mode()&os.ModeSticky == 0 {
				t.Skipf("%s is closed to other users", d)
			}
		}
		cmd := exec.Command(exe, "-test.run=^TestInstallWithoutRootSaysSo$", "-test.count=1")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "FERRY_TEST_INSTALL_AS_NOBODY="+cfg)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		b, err = cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the test as nobody: %v\n%s", err, b)
		}
		out = string(b)
	}
	if !strings.Contains(out, "install: install: run it as root") || !strings.Contains(out, "sudo ferry install --config "+cfg) {
		t.Errorf("ferry install without root said\n%s\nwant that it runs as root, with the command", out)
	}
	if !strings.Contains(out, "dry run: <nil>") {
		t.Errorf("ferry install --dry-run without root said\n%s\nwant it shown", out)
	}
	if _, err := os.Stat(data); err == nil {
		t.Errorf("ferry install without root created %s", data)
	}
}
