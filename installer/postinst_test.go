//go:build linux

package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPostinstWithoutConffile: dpkg does not put back a conffile the
// administrator deleted (a site whose configuration lives elsewhere, or
// an upgrade during "Moving to a new machine", which moves ferry.yaml
// away), and the postinst, under set -e, ran chown on
// /etc/ferry/ferry.yaml regardless: the upgrade failed half-configured,
// the new binary not restarted. The commands that would change this
// machine are stand-ins that log their arguments; chown and chmod fail on
// a missing file as the real ones do.
func TestPostinstWithoutConffile(t *testing.T) {
	if _, err := os.Stat("/etc/ferry/ferry.yaml"); err == nil {
		t.Skip("/etc/ferry/ferry.yaml exists on this machine")
	}
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "log")
	stub := func(name, body string) {
		script := "#!/bin/sh\necho \"" + name + " $*\" >> " + log + "\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"getent", "useradd", "install", "systemctl"} {
		stub(name, "exit 0")
	}
	// The last argument is the file; -R on the data folder is taken as done.
	for _, name := range []string{"chown", "chmod"} {
		stub(name, `for f; do :; done; [ "$1" = -R ] || [ -e "$f" ] || { echo "$0: cannot access '$f': No such file or directory" >&2; exit 1; }`)
	}
	cmd := exec.Command("/bin/sh", "linux/postinst.sh", "configure", "1.0.0")
	cmd.Env = append(os.Environ(), "PATH="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("postinst failed without /etc/ferry/ferry.yaml: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "chown -R ferry:ferry /var/lib/ferry\n") {
		t.Errorf("the data folder was not given to the service account:\n%s", b)
	}
}
