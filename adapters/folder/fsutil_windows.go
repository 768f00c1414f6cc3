//go:build windows

package folder

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isCrossDevice reports whether a rename failed because source and
// destination are on different volumes.
func isCrossDevice(err error) bool { return errors.Is(err, windows.ERROR_NOT_SAME_DEVICE) }

func isInvalid(error) bool { return false }

// heldOpen reports whether an operation on a file failed because another
// process has it open without sharing it (a writer, a virus scanner, an
// indexer): on Windows a file open without FILE_SHARE_DELETE cannot be
// renamed. The file is not free yet, as busy finds it, which is no
// failure of the folder.
func heldOpen(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

// renameAcross has no Windows counterpart of renameat: a move between two
// Roots is a copy.
func renameAcross(place, string, place, string) error { return errors.ErrUnsupported }

// oNonblock: Windows has no named pipes among files in a folder.
const oNonblock = 0
