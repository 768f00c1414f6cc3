//go:build unix

package folder

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// isCrossDevice reports whether a rename failed because source and
// destination are on different volumes.
func isCrossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }

func isInvalid(err error) bool { return errors.Is(err, syscall.EINVAL) }

// heldOpen: Unix renames a file whoever has it open.
func heldOpen(error) bool { return false }

// renameAcross renames src in one open folder to dst in another
// (renameat(2) on the two folders' descriptors): neither is looked up by
// path, and names from a directory listing hold no separator.
func renameAcross(from place, src string, to place, dst string) error {
	fd, err := from.root.Open(from.dir)
	if err != nil {
		return err
	}
	defer fd.Close()
	td, err := to.root.Open(to.dir)
	if err != nil {
		return err
	}
	defer td.Close()
	return unix.Renameat(int(fd.Fd()), src, int(td.Fd()), dst)
}

// oNonblock opens a named pipe without waiting for a writer.
const oNonblock = syscall.O_NONBLOCK

// reservedName: only Windows reserves names for devices.
func reservedName(string) bool { return false }
