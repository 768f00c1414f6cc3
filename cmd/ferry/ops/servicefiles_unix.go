//go:build !windows

package ops

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// LookupServiceAccount finds the service account name for
// CheckServiceFiles. It returns nil and the reason when the check cannot
// be made: no such account, or doctor is not root (it then cannot read
// what the account cannot either, and the certificate checks show it).
func LookupServiceAccount(name string) (*ServiceAccount, string) {
	if name == "" {
		return nil, "this operating system has no ferry service account"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "there is no account " + name + " on this machine (ferry install creates it)"
	}
	if u.Uid == strconv.Itoa(os.Geteuid()) {
		return nil, "doctor runs as the service account " + name + ": the certificate checks above read the files as it"
	}
	if os.Geteuid() != 0 {
		return nil, "run doctor as root (sudo ferry doctor) to check that the service account " + name + " can read them"
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, "account " + name + " has no numeric uid"
	}
	a := &ServiceAccount{Name: name, UID: uint32(uid)}
	ids, _ := u.GroupIds()
	for _, s := range append([]string{u.Gid}, ids...) {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil && !slices.Contains(a.GIDs, uint32(g)) {
			a.GIDs = append(a.GIDs, uint32(g))
		}
	}
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		a.Group = g.Name
	}
	return a, ""
}

// readableBy judges, from owner, group and mode, whether a can read path:
// read permission on the file and search permission on every folder above
// it (and above the file a symbolic link points to). A failure names the
// chmod/chgrp that would fix it. A missing file is left to the
// certificate checks. An ownerOnly file is fixed by giving it to a (mode
// 0600), as ferry requires of the encryption key. POSIX ACLs are not evaluated: where one could grant
// what the mode denies, the finding is a warning.
func readableBy(path string, a *ServiceAccount, ownerOnly bool) (Level, string) {
	if a.UID == 0 {
		return OK, ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return OK, ""
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return OK, ""
	}
	dirs := parentDirs(abs)
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		for _, d := range parentDirs(real) {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
		abs = real
	}
	var why, fixes []string
	acl := false
	deny := func(p string, fi os.FileInfo, bit uint32, what string, ownerOnly bool) {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || permits(st, fi, a, bit) {
			return
		}
		acl = acl || hasACL(p)
		why = append(why, fmt.Sprintf("%s %s (owner %d:%d, mode %04o)", what, p, st.Uid, st.Gid, fi.Mode().Perm()))
		if ownerOnly && st.Uid != a.UID {
			fixes = append(fixes, "chown "+a.Name+" "+shellQuote(p)+" && chmod 0600 "+shellQuote(p))
		} else {
			fixes = append(fixes, fixFor(p, st, a, bit))
		}
	}
	for _, d := range dirs {
		if di, err := os.Stat(d); err == nil {
			deny(d, di, 1, "cannot search folder", false)
		}
	}
	deny(abs, fi, 4, "cannot read", ownerOnly)
	if len(why) == 0 {
		return OK, ""
	}
	msg := fmt.Sprintf("the service account %s (uid %d) %s; the service will fail to start. Fix: %s",
		a.Name, a.UID, strings.Join(why, ", and "), strings.Join(fixes, " && "))
	if acl {
		return Warn, msg + " (an ACL may already allow it; check with: sudo -u " + a.Name + " cat " + abs + " >/dev/null)"
	}
	return Fail, msg
}

// writableBy judges, from owner, group and mode, whether a can create and
// rename files in the folder dir, as a folder source claims its inputs
// and files them in its work folder: write and search permission on dir
// and search permission on every folder above it. `sudo ferry doctor`
// probes the folders as root, which writes anywhere, so a drop folder
// only root may write passed every check and the service then showed it
// as FOLDER STUCK. A failure names the commands that fix it; with own (a
// work folder ferry made for itself, mode 0700, as are the folders in it)
// the fix gives the folder and everything in it to a. A missing folder
// is left to the other checks.
func writableBy(dir string, a *ServiceAccount, own bool) (Level, string) {
	if a == nil || a.UID == 0 {
		return OK, ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return OK, ""
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return OK, ""
	}
	var why, fixes []string
	acl := false
	check := func(p string, bit uint32, what string) {
		fi, err := os.Stat(p)
		if err != nil {
			return
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || permits(st, fi, a, bit) {
			return
		}
		acl = acl || hasACL(p)
		why = append(why, fmt.Sprintf("%s %s (owner %d:%d, mode %04o)", what, p, st.Uid, st.Gid, fi.Mode().Perm()))
		if own && p == real && st.Uid != a.UID {
			fixes = append(fixes, "chown -R "+a.Name+":"+groupOf(a)+" "+shellQuote(p))
		} else {
			fixes = append(fixes, fixFor(p, st, a, bit))
		}
	}
	for _, d := range parentDirs(real) {
		check(d, 1, "cannot search folder")
	}
	check(real, 3, "cannot create files in")
	if len(why) == 0 {
		return OK, ""
	}
	msg := fmt.Sprintf("the service account %s (uid %d) %s; the service will take no file here (FOLDER STUCK in ferry status). Fix: %s",
		a.Name, a.UID, strings.Join(why, ", and "), strings.Join(fixes, " && "))
	if acl {
		return Warn, msg + " (an ACL may already allow it; check with: sudo -u " + a.Name + " touch " + shellQuote(real+"/.probe") + ")"
	}
	return Fail, msg
}

// parentDirs lists the folders above abs, from the root down.
func parentDirs(abs string) []string {
	var out []string
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		out = append(out, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	slices.Reverse(out)
	return out
}

// permits applies the POSIX rule: the owner bits for the owner, else the
// group bits for a member of the file's group, else the other bits; one
// class only, no falling through. bit may hold several bits (3: write and
// search), all of which must be granted.
func permits(st *syscall.Stat_t, fi os.FileInfo, a *ServiceAccount, bit uint32) bool {
	mode := uint32(fi.Mode().Perm())
	switch {
	case st.Uid == a.UID:
		return mode>>6&bit == bit
	case slices.Contains(a.GIDs, st.Gid):
		return mode>>3&bit == bit
	default:
		return mode&bit == bit
	}
}

// fixFor is the command that gives a the permission bit on p, keeping
// others out: through the owner or group bits it already falls under, or
// by giving the file to a's group.
func fixFor(p string, st *syscall.Stat_t, a *ServiceAccount, bit uint32) string {
	perm := "r"
	switch bit {
	case 1:
		perm = "x"
	case 3:
		perm = "wx"
	}
	q := shellQuote(p)
	switch {
	case st.Uid == a.UID:
		return "chmod u+" + perm + " " + q
	case slices.Contains(a.GIDs, st.Gid):
		return "chmod g+" + perm + " " + q
	}
	return "chgrp " + groupOf(a) + " " + q + " && chmod g+" + perm + " " + q
}

// groupOf names a's primary group for chgrp and chown: its name, else its
// number.
func groupOf(a *ServiceAccount) string {
	group := a.Group
	if group == "" && len(a.GIDs) > 0 {
		group = strconv.FormatUint(uint64(a.GIDs[0]), 10)
	}
	return group
}

// shellQuote quotes p for a POSIX shell when it needs it.
func shellQuote(p string) string {
	if p != "" && strings.IndexFunc(p, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ':' || r == '@' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
