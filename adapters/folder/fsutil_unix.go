//go:build !windows

package folder

import (
	"errors"
	"os"
	"syscall"
)

// syncDir fsyncs a directory so that renames into and out of it survive a
// power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		// EINVAL: the filesystem cannot sync directories (some FUSE and
		// network mounts); nothing more can be done there.
		return err
	}
	return nil
}

func isCrossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }
