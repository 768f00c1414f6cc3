//go:build linux || freebsd || darwin

package installer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// ServiceUser is the account name handed to the service manager.
func ServiceUser() string { return Account }

// EnsureAccount creates the "ferry" system account (no login shell, no
// home outside the data folder, its own group) unless it exists. It
// reports whether it created it. It needs root.
func EnsureAccount(dataDir string) (created bool, err error) {
	return ensureAccount(Account, dataDir)
}

// ensureAccount is EnsureAccount for the account name.
func ensureAccount(name, dataDir string) (created bool, err error) {
	if _, err := user.Lookup(name); err == nil {
		return false, nil
	}
	shell := "/usr/sbin/nologin"
	if _, err := os.Stat(shell); err != nil {
		shell = "/bin/false"
	}
	var cmd *exec.Cmd
	if path, err := exec.LookPath("useradd"); err == nil {
		// useradd --user-group refuses a group of the account's name
		// that is there already (made by an administrator, or left by
		// userdel): the account joins it instead, as the preinst does.
		group := []string{"--user-group"}
		if _, err := user.LookupGroup(name); err == nil {
			group = []string{"--gid", name}
		}
		args := append([]string{"--system"}, group...)
		cmd = exec.Command(path, append(args, "--no-create-home",
			"--home-dir", dataDir, "--shell", shell, "--comment", "ferry health data gateway", name)...)
	} else if path, err := exec.LookPath("adduser"); err == nil {
		// BusyBox/Alpine adduser.
		cmd = exec.Command(path, "-S", "-D", "-H", "-h", dataDir, "-s", shell, name)
	} else {
		return false, errors.New("create account ferry: neither useradd nor adduser is installed")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return false, fmt.Errorf("create account %s: %s: %w", name, bytesTrim(out), err)
	}
	return true, nil
}

// accountIDs returns the uid and gid of the service account.
func accountIDs() (uid, gid int, err error) {
	u, err := user.Lookup(Account)
	if err != nil {
		return 0, 0, fmt.Errorf("look up account ferry: %w", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// PrepareFolders creates the folders of l with tight permissions:
//
//	config dir  0750 root:ferry  (the service reads its config and keys, cannot change them)
//	config file 0640 root:ferry  (when it exists; likewise l.Readable,
//	                              but for l.Public files others can read)
//	data dir    0700 ferry:ferry (queue, quarantine, dead letters: PHI)
//	log dir     0750 ferry:ferry (log.file outside the data dir)
//
// Existing folders get their owner and mode corrected; their contents are
// left alone except that files in the data folder are given to ferry.
// Folders made above them (/srv/ferry for /srv/ferry/data) are 0755
// root's, so that the account reaches its own.
func PrepareFolders(l Layout) error {
	uid, gid, err := accountIDs()
	if err != nil {
		return err
	}
	return prepareFolders(l, uid, gid)
}

// prepareFolders is PrepareFolders for the account uid:gid.
func prepareFolders(l Layout, uid, gid int) error {
	if l.ConfigDir != "" {
		if err := ensureDir(l.ConfigDir, 0o750, 0, gid); err != nil {
			return err
		}
	}
	for _, f := range append([]string{l.ConfigFile}, l.Readable...) {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err == nil {
			if slices.Contains(l.Public, f) && fi.Mode().Perm()&0o004 != 0 {
				continue // the service reads it as everyone does
			}
			if err := setOwnerMode(f, 0o640, 0, gid); err != nil {
				return err
			}
		}
	}
	for _, f := range l.Private {
		if _, err := os.Stat(f); err == nil {
			if err := setOwnerMode(f, 0o600, uid, gid); err != nil {
				return err
			}
		}
	}
	if l.LogDir != "" {
		if err := ensureDir(l.LogDir, 0o750, uid, gid); err != nil {
			return err
		}
	}
	for _, d := range l.WorkDirs {
		if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			if err := ensureDir(d, 0o700, uid, gid); err != nil {
				return err
			}
		}
	}
	if err := ensureDir(l.DataDir, 0o700, uid, gid); err != nil {
		return err
	}
	return filepath.Walk(walkRoot(l.DataDir), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("give %s to ferry: %w", p, err)
		}
		return nil
	})
}

func ensureDir(dir string, mode os.FileMode, uid, gid int) error {
	if err := makeParents(dir); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return setOwnerMode(dir, mode, uid, gid)
}

// makeParents creates the folders above dir that do not exist, 0755 as
// /var/lib is (whatever the umask), and leaves those that do as they are:
// made with dir's own mode, root's, they would shut the account out of
// dir (/srv/ferry 0700 above a data_dir /srv/ferry/data).
func makeParents(dir string) error {
	parent := filepath.Dir(dir)
	if _, err := os.Stat(parent); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := makeParents(parent); err != nil {
		return err
	}
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(parent, 0o755)
}

func setOwnerMode(p string, mode os.FileMode, uid, gid int) error {
	if err := os.Chown(p, uid, gid); err != nil {
		return fmt.Errorf("set owner of %s: %w", p, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("set permissions of %s: %w", p, err)
	}
	return nil
}

func bytesTrim(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return string(b)
}

// FixOwnership gives the data folder's contents back to the service account
// after an administrator's command (backfill, queue retry) wrote into it as
// root; otherwise the service could not open the files it finds there. It
// does nothing unless running as root and the folder belongs to the
// service account.
func FixOwnership(dataDir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := accountIDs()
	if err != nil {
		return nil
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		return nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid {
		return nil
	}
	return filepath.Walk(walkRoot(dataDir), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid {
			return nil
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("give %s to ferry: %w", p, err)
		}
		return nil
	})
}

// KeepOwnership gives path the owner, group and permissions of the file
// described by old (the file path replaces), so that rewriting
// /etc/ferry/ferry.yaml keeps it readable by the ferry group.
func KeepOwnership(old os.FileInfo, path string) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil && os.Geteuid() == 0 {
		return fmt.Errorf("keep owner of %s: %w", path, err)
	}
	return os.Chmod(path, old.Mode().Perm())
}

// GiveKeyToService hands a private key file made by root (`sudo ferry
// keygen`) to the service account, mode 0600, so that the service, which
// runs as that account, can read it; otherwise the next start fails on a
// root-owned key. It does nothing, and reports false, unless the process
// runs as root and the account exists.
func GiveKeyToService(path string) (bool, error) {
	if os.Geteuid() != 0 {
		return false, nil
	}
	uid, gid, err := accountIDs()
	if err != nil {
		return false, nil
	}
	if err := setOwnerMode(path, 0o600, uid, gid); err != nil {
		return false, err
	}
	return true, nil
}

// GiveConfigToService gives a configuration file root wrote (`sudo ferry
// restore --write-config`) the owner, group and mode the package installs
// /etc/ferry/ferry.yaml with, 0640 root:ferry, so that the service, which
// runs as ferry, can read it and no one else can change it. It does
// nothing, and reports false, unless the process runs as root and the
// account exists.
func GiveConfigToService(path string) (bool, error) {
	if os.Geteuid() != 0 {
		return false, nil
	}
	_, gid, err := accountIDs()
	if err != nil {
		return false, nil
	}
	if err := setOwnerMode(path, 0o640, 0, gid); err != nil {
		return false, err
	}
	return true, nil
}

// GiveTreeToService hands dir and everything in it to the service
// account (a data folder `sudo ferry restore` wrote as root), so that the
// service can open its stores. It does nothing, and reports false,
// unless the process runs as root and the account exists.
func GiveTreeToService(dir string) (bool, error) {
	if os.Geteuid() != 0 {
		return false, nil
	}
	uid, gid, err := accountIDs()
	if err != nil {
		return false, nil
	}
	err = filepath.Walk(walkRoot(dir), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("give %s to %s: %w", p, Account, err)
		}
		return nil
	})
	return err == nil, err
}

// walkRoot is dir with its symbolic links resolved, to walk: a data_dir
// may be a link to a folder on another disk, and filepath.Walk given a
// link visits the link alone, so the files in the folder stayed root's.
func walkRoot(dir string) string {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		return real
	}
	return dir
}

// IsAdmin reports whether the process may set up the service: it runs as
// root.
func IsAdmin() bool { return os.Geteuid() == 0 }
