// Package installer holds what it takes to run ferry as an operating-system
// service under its own low-privilege account: the service definitions that
// the packages ship (linux/ferry.service, windows/ferry.wxs), the default
// folder layout, and the account and folder set-up that `ferry install` and
// the package scripts perform.
//
// The account is the main defence: ferry holds PHI in its queue and the
// private key of the clinic's exchange certificate, so it runs as "ferry"
// (Linux system user) or "NT SERVICE\ferry" (a Windows virtual account, with
// no password to manage), and only that account may read its data folder.
package installer

import (
	_ "embed"
	"fmt"
	"path/filepath"
	"strings"
)

// Account is the name of the service account on every OS.
const Account = "ferry"

// ServiceName is the name the service is registered under.
const ServiceName = "ferry"

// SystemdUnit is the unit file the Linux packages install as
// /lib/systemd/system/ferry.service.
//
//go:embed linux/ferry.service
var SystemdUnit string

// DefaultConfigYAML is the commented configuration the packages install as
// /etc/ferry/ferry.yaml (a conffile: upgrades keep local edits).
//
//go:embed linux/ferry.yaml
var DefaultConfigYAML []byte

// Layout is where an installed ferry keeps its files.
type Layout struct {
	// Binary is the installed executable.
	Binary string
	// ConfigDir holds ferry.yaml and the TLS key and certificates;
	// readable by the service account, writable only by administrators.
	// Empty leaves the folder alone (a config file in a shared folder).
	ConfigDir string
	// ConfigFile is the configuration the service runs with.
	ConfigFile string
	// DataDir holds the queue, quarantine, dead letters and outbox;
	// only the service account may read or write it.
	DataDir string
	// LogDir, when set, holds log.file outside DataDir: the service
	// account writes it, administrators read it.
	LogDir string
	// WorkDirs lists folder sources' work folders that lie outside the
	// folder they watch (a HylaFAX inbox's, beside recvq), which the
	// service account cannot create itself: install creates those that
	// do not exist, for the service account only. One that exists is
	// left as it is.
	WorkDirs []string
	// Readable lists further files the service must read but not change:
	// TLS keys and certificates named by the configuration.
	Readable []string
	// Public lists those of Readable that hold no secret: certificates
	// and CA files. One that other accounts can read already is left as
	// it is: it may be the system's own (/etc/ssl/certs/
	// ca-certificates.crt), which every program on the machine reads.
	Public []string
	// Private lists files only the service account may read: the
	// data-at-rest key (encryption.key_file), which ferry refuses to load
	// when group or others can read it. On Unix they become 0600 owned by
	// the account; on Windows the config folder's ACL covers them.
	Private []string
}

// RenderSystemdUnit returns the shipped unit with the command line and the
// writable paths replaced: `ferry install` uses it so that a binary installed
// outside /usr/bin, another config file or extra folder sources (which ferry
// must be able to move files out of) get the same hardened unit. The paths
// must be absolute.
func RenderSystemdUnit(exe string, args []string, workDir string, writable []string) (string, error) {
	// systemd reads the three kinds of line differently. A command line
	// (ExecStart) is split into words at spaces, unquoted, and has its
	// %-specifiers and $VARIABLES expanded ("$$" is a dollar). A list of
	// paths (ReadWritePaths) is split and unquoted, with specifiers but
	// no variables: a "$$" stays two dollars, a folder that does not
	// exist, and the unit fails to start. A single path (WorkingDirectory,
	// ConditionFileIsExecutable) is the rest of the line, specifiers
	// expanded, never unquoted: quoted, it is no absolute path, which
	// systemd-analyze verify calls a fatal error for WorkingDirectory.
	quote := func(s string) (string, error) {
		if err := unitChars(s); err != nil {
			return "", err
		}
		if strings.ContainsAny(s, " \t'$%;") {
			s = strings.ReplaceAll(s, "%", "%%")
			s = strings.ReplaceAll(s, "$", "$$")
			return `"` + s + `"`, nil
		}
		return s, nil
	}
	onePath := func(s string) (string, error) {
		if err := unitChars(s); err != nil {
			return "", err
		}
		if strings.TrimSpace(s) != s {
			return "", fmt.Errorf("render unit: %q begins or ends with a space, which a unit file drops", s)
		}
		return strings.ReplaceAll(s, "%", "%%"), nil
	}
	var exec []string
	for _, a := range append([]string{exe}, args...) {
		q, err := quote(a)
		if err != nil {
			return "", err
		}
		exec = append(exec, q)
	}
	var rw []string
	seen := map[string]bool{}
	for _, p := range writable {
		if !filepath.IsAbs(p) {
			return "", fmt.Errorf("render unit: writable path %q is not absolute", p)
		}
		p = filepath.Clean(p)
		if seen[p] {
			continue
		}
		seen[p] = true
		q, err := unitPathWord(p)
		if err != nil {
			return "", err
		}
		rw = append(rw, q)
	}
	wd, err := onePath(workDir)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(SystemdUnit, "\n") {
		key, _, _ := strings.Cut(line, "=")
		switch key {
		case "ExecStart":
			line = "ExecStart=" + strings.Join(exec, " ") + "\n"
		case "ReadWritePaths":
			line = "ReadWritePaths=" + strings.Join(rw, " ") + "\n"
		case "WorkingDirectory":
			line = "WorkingDirectory=" + wd + "\n"
		case "ConditionFileIsExecutable":
			q, err := onePath(exe)
			if err != nil {
				return "", err
			}
			line = "ConditionFileIsExecutable=" + q + "\n"
		}
		out.WriteString(line)
	}
	return out.String(), nil
}

// unitChars refuses what no line of a unit file can carry.
func unitChars(s string) error {
	if strings.ContainsAny(s, "\n\r\"\\") {
		return fmt.Errorf("render unit: %q holds characters a unit file cannot carry", s)
	}
	return nil
}

// unitPathWord is p as a word of a list of paths (ReadWritePaths):
// quoted when it holds a space or a quote, its % doubled (a specifier),
// its $ kept (no variables are expanded there).
func unitPathWord(p string) (string, error) {
	if err := unitChars(p); err != nil {
		return "", err
	}
	p = strings.ReplaceAll(p, "%", "%%")
	if strings.ContainsAny(p, " \t'") {
		return `"` + p + `"`, nil
	}
	return p, nil
}

// UnitPathList is paths as the value of a unit's list of paths
// (ReadWritePaths=), for a line an operator adds with systemctl edit.
func UnitPathList(paths []string) (string, error) {
	words := make([]string, 0, len(paths))
	for _, p := range paths {
		w, err := unitPathWord(p)
		if err != nil {
			return "", err
		}
		words = append(words, w)
	}
	return strings.Join(words, " "), nil
}
