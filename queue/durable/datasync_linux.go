//go:build linux

package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// Datasync flushes f's data and the metadata needed to read it back (the
// size), skipping the timestamps a full fsync would also write.
func Datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
