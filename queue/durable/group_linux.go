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
	// The descriptor is used through the open file, never by its
	// number: once Close has freed the number, the next file or socket
	// the process opens takes it, and a Commit still under way (a Send
	// the outbox's reconnect overtook) would sync that one's file system
	// (syncfs of a pipe or socket succeeds) and pass for durable. Control
	// fails once the file is closed, and keeps the number from being
	// freed while syncfs runs.
	rc, err := d.SyscallConn()
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("open directory %s: %w", dir, err)
	}
	return &fsHandle{
		sync: func() error {
			var err error
			if cerr := rc.Control(func(fd uintptr) {
				for {
					if err = unix.Syncfs(int(fd)); err != unix.EINTR {
						return
					}
				}
			}); cerr != nil {
				return fmt.Errorf("sync the file system of %s: %w", dir, cerr)
			}
			return err
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
