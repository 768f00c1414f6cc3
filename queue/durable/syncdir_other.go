//go:build !windows

package durable

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// syncDir fsyncs a directory (SyncDir). File systems that cannot sync a
// directory (some FUSE and network mounts answer EINVAL) are accepted:
// nothing more can be done there.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s for fsync: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
