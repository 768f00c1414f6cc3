//go:build !windows

package ops

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// permissionWords judges a data folder's mode and owner.
func permissionWords(dir string, fi os.FileInfo, account string) (Level, string) {
	var notes []string
	lvl := OK
	mode := fi.Mode().Perm()
	if mode&0o007 != 0 {
		lvl = Warn
		notes = append(notes, fmt.Sprintf("mode %04o lets every user on this machine in (it holds patient data): chmod 700 %s", mode, dir))
	} else if mode&0o070 == 0o010 {
		notes = append(notes, fmt.Sprintf("mode %04o (the group may pass through to the outbox, not list or read the rest)", mode))
	} else if mode&0o070 != 0 {
		notes = append(notes, fmt.Sprintf("mode %04o (group access)", mode))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && account != "" {
		if u, err := user.Lookup(account); err == nil {
			if strconv.FormatUint(uint64(st.Uid), 10) != u.Uid {
				owner := strconv.FormatUint(uint64(st.Uid), 10)
				if ou, err := user.LookupId(owner); err == nil {
					owner = ou.Username
				}
				lvl = max(lvl, Warn)
				notes = append(notes, fmt.Sprintf("owned by %s, not by the service account %s: chown -R %s: %s", owner, account, account, dir))
			}
		}
	}
	if len(notes) == 0 {
		return OK, fmt.Sprintf("mode %04o", mode)
	}
	return lvl, joinNotes(notes)
}

func joinNotes(n []string) string {
	s := n[0]
	for _, x := range n[1:] {
		s += "; " + x
	}
	return s
}

func diskFree(dir string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	// The field types differ between systems (FreeBSD's Bavail is
	// signed: it goes negative when the reserve is in use).
	avail := int64(st.Bavail)
	if avail < 0 {
		avail = 0
	}
	bsize := uint64(st.Bsize)
	return uint64(avail) * bsize, uint64(st.Blocks) * bsize, nil
}
