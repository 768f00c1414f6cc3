package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPrepareFoldersReachableByTheService: a data_dir (or log folder)
// whose parent folders did not exist yet (/srv/ferry/data on a new
// machine) had them made 0700 root's, by the same MkdirAll that made the
// folder itself, and only the folder given to the service account: the
// service could not pass /srv/ferry to reach its own data folder, and
// failed at every start on "permission denied". Parents are made as
// /var/lib is, 0755 root's. Run as root; the service account is nobody.
func TestPrepareFoldersReachableByTheService(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give folders to another account")
	}
	root := t.TempDir()
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l := Layout{
		DataDir: filepath.Join(root, "srv", "ferry", "data"),
		LogDir:  filepath.Join(root, "logs", "ferry", "site"),
	}
	if err := prepareFolders(l, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{l.DataDir, l.LogDir} {
		cmd := exec.Command("/bin/sh", "-c", `echo x > "$1"/probe`, "sh", dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("the service account cannot write in %s: %v: %s", dir, err, out)
		}
	}
	if fi, err := os.Stat(l.DataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data_dir: %v, %v, want mode 0700", fi.Mode(), err)
	}
}

// TestPrepareFoldersLeavesPublicFilesOthersRead: a CA file or a
// certificate the configuration names may be the system's own
// (exchange.tls.ca_file: /etc/ssl/certs/ca-certificates.crt, read by
// every program on the machine); install made it 0640 root:ferry, and
// every other account lost the CA bundle. One others can read already
// is left as it is; a private key is still given to the ferry group.
func TestPrepareFoldersLeavesPublicFilesOthersRead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give files to another account")
	}
	dir := t.TempDir()
	ca, cert, key := filepath.Join(dir, "ca-certificates.crt"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	for _, f := range []string{ca, cert, key} {
		if err := os.WriteFile(f, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := Layout{
		DataDir:  filepath.Join(dir, "data"),
		Readable: []string{ca, cert, key},
		Public:   []string{ca, cert},
	}
	if err := prepareFolders(l, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file string
		mode os.FileMode
		gid  uint32
	}{{ca, 0o644, 0}, {cert, 0o644, 0}, {key, 0o640, 65534}} {
		fi, err := os.Stat(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != c.mode || st.Uid != 0 || st.Gid != c.gid {
			t.Errorf("%s: mode %04o owner %d:%d, want %04o 0:%d", filepath.Base(c.file), fi.Mode().Perm(), st.Uid, st.Gid, c.mode, c.gid)
		}
	}
}
