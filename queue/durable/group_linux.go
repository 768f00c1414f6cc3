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
// which since Linux 5.8 also reports write-back errors.
func newFSSyncer(dir string) (*fsHandle, error) {
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
