//go:build windows

package installer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/windows"
)

// ServiceUser is the account the service runs as: the virtual account
// NT SERVICE\ferry, which Windows creates with the service. It has no
// password to manage and no rights beyond what the folder ACLs grant it.
func ServiceUser() string { return `NT SERVICE\` + ServiceName }

// EnsureAccount is a no-op on Windows: the virtual account comes into
// being when the service is registered under it.
func EnsureAccount(dataDir string) (bool, error) { return false, nil }

// PrepareFolders creates the folders of l and replaces their inherited
// permissions: SYSTEM and Administrators have full control; the service's
// virtual account may read the config folder and modify the data and log
// folders;
// nobody else (in particular not Users) has access.
func PrepareFolders(l Layout) error {
	svc := ServiceUser()
	dirs := []struct {
		dir    string
		rights string
	}{
		{l.ConfigDir, "(OI)(CI)RX"},
		{l.DataDir, "(OI)(CI)M"},
		{l.LogDir, "(OI)(CI)M"},
	}
	for _, d := range l.WorkDirs {
		if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			dirs = append(dirs, struct {
				dir    string
				rights string
			}{d, "(OI)(CI)M"})
		}
	}
	for _, d := range dirs {
		if d.dir == "" {
			continue
		}
		if err := os.MkdirAll(d.dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d.dir, err)
		}
		args := []string{d.dir, "/inheritance:r", "/grant:r",
			"*S-1-5-18:(OI)(CI)F",     // SYSTEM
			"*S-1-5-32-544:(OI)(CI)F", // Administrators
			svc + ":" + d.rights,
		}
		out, err := exec.Command("icacls", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("set permissions of %s: %s: %w", d.dir, strings.TrimSpace(string(out)), err)
		}
	}
	return nil
}

// FixOwnership is a no-op on Windows: files inherit the data folder's ACL.
func FixOwnership(dataDir string) error { return nil }

// KeepOwnership is a no-op on Windows: the new file inherits the folder's ACL.
func KeepOwnership(old os.FileInfo, path string) error { return nil }

// GiveKeyToService is a no-op on Windows: a key written into the config
// folder inherits its ACL, which lets the service's virtual account read
// it (PrepareFolders).
func GiveKeyToService(string) (bool, error) { return false, nil }

// GiveConfigToService is a no-op on Windows: a configuration written into
// the config folder inherits its ACL (PrepareFolders).
func GiveConfigToService(string) (bool, error) { return false, nil }

// GiveTreeToService is a no-op on Windows: restored files inherit the
// data folder's ACL.
func GiveTreeToService(string) (bool, error) { return false, nil }

// IsAdmin reports whether the process may set up the service: it runs
// elevated (an administrator prompt), which registering a service and
// changing ProgramData's ACLs need.
func IsAdmin() bool { return windows.GetCurrentProcessToken().IsElevated() }
