//go:build linux

package durable

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

type fsHandle struct {
	sync  func() error
	close func() error
}

// newFSSyncer opens dir and syncs its whole file system with syncfs(2),
// on kernels whose syncfs reports write-back errors (Linux 5.8 and
// later). Before 5.8 it failed only on a bad descriptor (the manual
// page's BUGS): a write the disk lost would pass for durable, so there
// newFSSyncer returns nil and Group.Commit fsyncs the file and its
// directory, which report it.
func newFSSyncer(dir string) (*fsHandle, error) {
	if !syncfsReportsErrors(kernelRelease()) {
		return nil, nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open directory %s: %w", dir, err)
	}
	fd := int(d.Fd())
	return &fsHandle{
		sync: func() error {
			for {
				err := unix.Syncfs(fd)
				if err != unix.EINTR {
					return err
				}
			}
		},
		close: d.Close,
	}, nil
}

// kernelRelease is the running kernel's release (uname -r); "" when it
// cannot be read. Tests replace it.
var kernelRelease = func() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// syncfsReportsErrors reports whether a kernel of this release returns
// write-back errors from syncfs(2): 5.8 or later.
func syncfsReportsErrors(release string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 5 || major == 5 && minor >= 8
}
