//go:build linux

package mllpbench

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data without its timestamps, as the queue does.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
